"""Round 10 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_DATETIME = "import datetime\n"
_IMPORT_DATACLASS = "from dataclasses import dataclass\n"
_CONSTANTS = "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )
"""
_RESPONSE = '    response = getattr(error, "response", None)\n'
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_GIVE_UP_CHECK = "            if attempt == policy.max_attempts:\n"
_WAIT = """\
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""
_BACKOFF_WAIT = """\
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
"""
_BACKOFF_SLEEP = "sleep(backoff_delay(attempt - 1, policy, rng))"
_KEPT_CLIENT = "        self.client = client.with_options(max_retries=0)\n"
_COMPLETE_BODY = """\
        request = list(messages)
        return retry_call(
            lambda: self.client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            ),
            self.policy,
            sleep=self.sleep,
            rng=self.rng,
        )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient ------------------------------------------------------------
    _m(
        "tool-requests-not-resent",
        # stopping before a success the limit allows is retries-transient's (README); the
        # RetryError it gives up with carries the one attempt made and its error, and no
        # wait follows it
        {"lab01.retries-transient"},
        "carries lab 02's lesson over to the wrong layer: 'a request that offers the model "
        "tools may make it act, so never send it twice': RetryingLLM.complete runs a "
        "request whose options carry a non-empty tools list with a one-attempt policy, so "
        "the DevOps agent's every tool-calling request (check_disk, clean_logs) gives up "
        "with RetryError(1, error) at its first 503, 429 or timeout although the policy "
        "allows more attempts and the success after it is lost (a chat completion runs no "
        "tool: only the agent does, after it returns); requests without tools, and "
        "retry_call used directly, retry up to the limit",
        (_IMPORT_DATACLASS, "from dataclasses import dataclass, replace\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        policy = self.policy
        if options.get("tools"):  # the model may act on it: never send it twice
            policy = replace(policy, max_attempts=1)
        return retry_call(
            lambda: self.client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            ),
            policy,
            sleep=self.sleep,
            rng=self.rng,
        )
"""),
    ),
    _m(
        "transient-with-permanent-cause-not-retried",
        {"lab01.retries-transient"},
        "'a connection that failed on a bad certificate or a permission never heals, "
        "however it is wrapped': a failure of a transient type (ConnectionError, "
        "TimeoutError, httpx.TransportError, the OpenAI client's APIConnectionError) whose "
        "__cause__ is an OSError other than TimeoutError/ConnectionError (ssl.SSLError, "
        "PermissionError, a plain OSError) or a ValueError is classified permanent and "
        "raised at once; the contract classifies the error by its own type, so a tool's "
        "ConnectionError raised from an OSError, or the OpenAI client's APIConnectionError "
        "wrapping an OSError its transport raised (the client wraps whatever the transport "
        "raises), is not retried and the success after it is lost; transient errors "
        "without a cause, or caused by another transient error (the client's usual "
        "APIConnectionError from httpx.ConnectError), are retried right",
        (_TRANSIENT_FALLBACK,
         "    cause = error.__cause__\n"
         "    if isinstance(cause, (OSError, ValueError)) and not isinstance(\n"
         "        cause, (TimeoutError, ConnectionError)\n"
         "    ):\n"
         "        return False  # failed on a certificate, a permission, a config: it never heals\n"
         + _TRANSIENT_FALLBACK),
    ),
    # -- lab01.exponential-backoff ----------------------------------------------------------
    _m(
        "throttling-errors-longer-base",
        # the cap still applies and a jittered wait is drawn from the code's own capped
        # backoff; server-requested waits are untouched: only base * factor ** n is wrong
        {"lab01.exponential-backoff"},
        "ports the AWS SDK for Java's two backoff strategies (throttling errors back off "
        "from a base five times longer than other failures, THROTTLED_BASE_DELAY 500 ms "
        "against BASE_DELAY 100 ms): after a 429 that carries no usable retry-after the "
        "computed wait is 5 * base_delay * factor ** n (capped), so a run of bare 429s "
        "waits 5, 10, 20 s instead of 1, 2, 4 s; 5xx, 408, 409, timeouts and connection "
        "errors back off right, and so does every 429 whose wait the server chose",
        (_IMPORT_DATACLASS, "from dataclasses import dataclass, replace\n"),
        (_CONSTANTS,
         _CONSTANTS
         + "#: Throttling backs off from a longer base (the AWS SDK's 500 ms against 100 ms).\n"
         "THROTTLING_BASE_FACTOR = 5\n"),
        (_BACKOFF_WAIT,
         """\
            if requested is None:
                paced = policy
                if isinstance(error, openai.APIStatusError) and error.status_code == 429:
                    # throttled: back off from a longer base, as the AWS SDK does
                    paced = replace(policy, base_delay=policy.base_delay * THROTTLING_BASE_FACTOR)
                sleep(backoff_delay(attempt - 1, paced, rng))
"""),
    ),
    _m(
        "waits-capped-by-request-timeout",
        # the cap the waits stop at is below max_delay: base * factor ** n no longer
        # reaches the cap (exponential-backoff), and a server's delay is cut below the
        # policy's cap (honours-retry-after); no wait exceeds max_delay and a jittered wait
        # is drawn from the code's own capped backoff
        {"lab01.exponential-backoff", "lab01.honours-retry-after"},
        "'waiting longer between attempts than one attempt may take is pointless': when "
        "complete is given a numeric timeout option below the policy's max_delay, "
        "RetryingLLM runs retry_call with max_delay lowered to that timeout, so "
        "complete(messages, timeout=2) waits 1, 2, 2 s instead of 1, 2, 4 s and caps a "
        "server's retry-after of 10 s at 2 s instead of waiting it; calls without a "
        "timeout (or with an httpx.Timeout, or one above max_delay), and retry_call used "
        "directly, wait right",
        (_IMPORT_DATACLASS, "from dataclasses import dataclass, replace\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        policy = self.policy
        timeout = options.get("timeout")
        if isinstance(timeout, (int, float)) and timeout < policy.max_delay:
            # no point waiting longer than one attempt may take
            policy = replace(policy, max_delay=float(timeout))
        return retry_call(
            lambda: self.client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            ),
            policy,
            sleep=self.sleep,
            rng=self.rng,
        )
"""),
    ),
    # -- lab01.no-sleep-after-last ----------------------------------------------------------
    _m(
        "give-up-check-by-identity",
        # the give-up never fires for a limit above 256: a wait follows the final attempt
        # (no-sleep-after-last) and the loop ends in AssertionError instead of the
        # RetryError (gives-up-with-last-error); the number of attempts is still bounded by
        # the range, and a limit up to 256 is right
        {"lab01.no-sleep-after-last", "lab01.gives-up-with-last-error"},
        "writes the give-up check as 'if attempt is policy.max_attempts:' ('is this the "
        "last one?'), which works in every test with a small limit because CPython caches "
        "the ints from -5 to 256; with a policy of max_attempts=300 (a patient background "
        "job, base_delay 0) the attempt number from range is another int object than the "
        "policy's, so the check never fires: after the 300th failed attempt retry_call "
        "sleeps another backoff and then falls out of the loop with "
        "AssertionError('unreachable') instead of raising RetryError(300, last error); "
        "limits up to 256, the default 4 among them, are right",
        (_GIVE_UP_CHECK, "            if attempt is policy.max_attempts:  # the last one?\n"),
    ),
    # -- lab01.gives-up-with-last-error -----------------------------------------------------
    _m(
        "wrapper-normalises-transport-errors",
        {"lab01.gives-up-with-last-error"},
        "'callers should catch the built-in TimeoutError and ConnectionError whatever the "
        "provider' (a provider-neutral adapter): RetryingLLM's request function turns the "
        "OpenAI client's APITimeoutError into TimeoutError and APIConnectionError into "
        "ConnectionError, each raised from the client's error; both are transient, so the "
        "attempts and waits are the same, but when the final attempt times out or loses "
        "its connection the RetryError's last_error (and __cause__) is that built-in "
        "stand-in instead of the error the client raised on the last attempt; HTTP status "
        "errors, successes and retry_call used directly are right",
        (_COMPLETE_BODY,
         """\
        request = list(messages)

        def send() -> ChatCompletion:
            try:
                return self.client.chat.completions.create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                )
            except openai.APITimeoutError as error:  # provider-neutral failures
                raise TimeoutError(f"{self.model}: the request timed out") from error
            except openai.APIConnectionError as error:
                raise ConnectionError(f"{self.model}: the connection failed") from error

        return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
"""),
    ),
    # -- lab01.permanent-not-retried --------------------------------------------------------
    _m(
        "context-overflow-trimmed-and-resent",
        # unlike context-length-400-rewrapped (round 9), which raises another error type
        # after one request, this one sends the permanent 400 again; the resend is made only
        # while the policy has an attempt left, so the limit holds and no wait is added
        {"lab01.permanent-not-retried"},
        "does what agent frameworks do with a conversation that outgrew the model's "
        "context: when RetryingLLM's call ends in a 400 whose code is "
        "context_length_exceeded and the conversation has three or more messages, it drops "
        "the oldest message after the system prompt and sends the request again (once, and "
        "only while the policy has an attempt left), returning that answer or raising its "
        "error; a permanent 400 is sent twice instead of raised at once after one request; "
        "every other 400, other permanent errors, short conversations and retry_call used "
        "directly are right",
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        sent = 0

        def send() -> ChatCompletion:
            nonlocal sent
            sent += 1
            return self.client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            )

        try:
            return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
        except openai.BadRequestError as error:
            # too long for the context window: drop the oldest turn, keep the system prompt
            if (error.code != "context_length_exceeded" or len(request) < 3
                    or sent >= self.policy.max_attempts):
                raise
            del request[1]
            return send()
"""),
    ),
    # -- lab01.honours-retry-after ----------------------------------------------------------
    _m(
        "server-delay-read-from-cause",
        {"lab01.honours-retry-after"},
        "'tools re-raise HTTP failures as their own errors (raise ToolTimeout(...) from "
        "exc), and the response with its retry-after is on the cause': when the failed "
        "error has no response, server_delay reads the headers of its __cause__'s "
        "response instead of answering None, so a transient error raised from an HTTP "
        "error that carried retry-after or retry-after-ms (a TimeoutError or "
        "ConnectionError from a RateLimitError or httpx.HTTPStatusError) waits that delay "
        "(capped) instead of the computed backoff, although the contract reads the failed "
        "error's own response; errors with a response of their own, and causes without "
        "one (the OpenAI client's APIConnectionError from an httpx error), are read right",
        (_RESPONSE,
         _RESPONSE
         + "    if response is None and error.__cause__ is not None:  # a wrapper around it\n"
         '        response = getattr(error.__cause__, "response", None)\n'),
    ),
    _m(
        "server-delay-honoured-once-per-call",
        {"lab01.honours-retry-after"},
        "'a server that keeps answering \"retry after N\" is stalling us: honour it once, as "
        "a courtesy, then go by our own schedule, which grows': within one retry_call only "
        "the first failure that carries a usable retry-after-ms or retry-after gets the "
        "server's delay; every later one waits the computed backoff base * factor ** n "
        "instead of the delay it asked for (capped); a call in which the server asks once, "
        "and the backoff waits, are right",
        (_LOOP_HEAD, "    honoured = False  # the server's delay, honoured once per call\n"
         + _LOOP_HEAD),
        (_WAIT,
         """\
            requested = server_delay(error)
            if requested is not None and honoured:  # it had its say: our schedule now
                requested = None
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                honoured = True
                sleep(min(requested, policy.max_delay))
"""),
    ),
    # -- lab01.capped-with-jitter -----------------------------------------------------------
    _m(
        "schedule-planned-up-front",
        # the waits of one call are exactly the draws backoff_delay makes, in order; but
        # the draws for waits that never come (the call succeeded, hit a permanent error or
        # gave up) are made too, so a seeded rng shared by later calls is ahead of the
        # one-draw-per-wait stream; without jitter nothing changes
        {"lab01.capped-with-jitter"},
        "plans the whole schedule before the first attempt, as Polly's WaitAndRetry takes "
        "a list of durations, so that it can be logged ('will retry after 0.4, 1.7, 2.2 "
        "s'): retry_call computes backoff_delay(n) for every n up to max_attempts - 1 up "
        "front and sleeps the planned wait; without jitter the plan is the schedule, but "
        "with jitter every call draws max_attempts - 1 times from the rng however early it "
        "ends, so a call that succeeds at its second attempt leaves a seeded rng three "
        "draws on instead of one, and the next call on the same rng (a second "
        "RetryingLLM.complete) waits other amounts than the seeded stream's next draws",
        (_LOOP_HEAD,
         "    # the whole plan up front, as Polly's WaitAndRetry takes it, for the log\n"
         "    plan = [backoff_delay(n, policy, rng) for n in range(policy.max_attempts - 1)]\n"
         + _LOOP_HEAD),
        (_BACKOFF_SLEEP, "sleep(plan[attempt - 1])"),
    ),
    _m(
        "idempotency-key-drawn-from-rng",
        # the header is not one of the request's options the contract speaks of; what
        # breaks is the jitter stream: the seeded rng is drawn from for something else
        # before the waits, so they are not its next rng.uniform draws
        {"lab01.capped-with-jitter"},
        "brings lab 02 into lab 01: every complete sends an Idempotency-Key header, the "
        "same on each attempt of the call so that the server can drop a duplicate, and "
        "draws the key from the wrapper's rng 'so that a seeded run sends the same keys' "
        "(uuid4 when there is none); without jitter nothing changes, but with jitter and "
        "a seeded rng each call first takes 128 bits from it, so the jittered waits are "
        "not the rng's uniform(0, capped) draws one per wait (Random(7) no longer gives "
        "the waits Random(7).uniform gives); rng=None and retry_call used directly are "
        "right",
        ("import random\n", "import random\nimport uuid\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        # one key per call, the same on every attempt: the server drops a duplicate
        if self.rng is not None:
            key = uuid.UUID(int=self.rng.getrandbits(128)).hex  # seeded runs, same keys
        else:
            key = uuid.uuid4().hex
        headers = {**(options.get("extra_headers") or {}), "Idempotency-Key": key}
        sent = {**options, "extra_headers": headers}
        return retry_call(
            lambda: self.client.chat.completions.create(
                model=self.model, messages=request, **sent  # type: ignore[arg-type]
            ),
            self.policy,
            sleep=self.sleep,
            rng=self.rng,
        )
"""),
    ),
    # -- lab01.single-retry-layer -----------------------------------------------------------
    _m(
        "shallow-copied-client",
        {"lab01.single-retry-layer"},
        "'with_options builds a whole new client; a shallow copy with max_retries set to 0 "
        "does the same for less': RetryingLLM keeps copy.copy(client) with its "
        "max_retries attribute set to 0, and the caller's client keeps its own; with a "
        "fresh client that is right, but the client's resources (client.chat) are cached "
        "on first use and bound to the client they were made for, so once the caller has "
        "used its client (client.chat.completions.create before building the wrapper) the "
        "copy's chat.completions is the caller's, every attempt goes out with the caller's "
        "max_retries=2 and the server sees three requests per attempt",
        (_IMPORT_DATETIME, "import copy\n" + _IMPORT_DATETIME),
        (_KEPT_CLIENT,
         "        # a shallow copy with its retries off: cheaper than with_options\n"
         "        self.client = copy.copy(client)\n"
         "        self.client.max_retries = 0\n"),
    ),
)
