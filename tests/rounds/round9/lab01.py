"""Round 9 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_RANDOM = "import random\n"
_IMPORT_DATACLASS = "from dataclasses import dataclass\n"
_CONSTANTS = "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
_STATUS_RULE = "        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500\n"
_TRANSIENT_TYPES = (
    "(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError)"
)
_RETRY_ERROR_END = "        self.last_error = last_error\n"
_OVERFLOW_AND_CAP = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        exponential = float("inf") if policy.base_delay > 0 else 0.0
    capped = min(policy.max_delay, exponential)
"""
_JITTER = """\
    if not policy.jitter:
        return capped
    return (rng or random).uniform(0.0, capped)
"""
_RESPONSE = '    response = getattr(error, "response", None)\n'
_LOOP_TO_GIVE_UP = """\
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_GIVE_UP = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_BACKOFF_CHOICE = "            if requested is None:\n"
_BACKOFF_SLEEP = "sleep(backoff_delay(attempt - 1, policy, rng))"
_KEPT_CLIENT = "        self.client = client.with_options(max_retries=0)\n"
_KEPT_POLICY = "        self.policy = policy\n"
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
_HELPERS_HEAD = "def _non_negative(text: str | None) -> float | None:\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient ------------------------------------------------------------
    _m(
        "five-o-one-not-retried",
        {"lab01.retries-transient"},
        "ports hashicorp/go-retryablehttp's DefaultRetryPolicy, which retries 429 and every "
        "5xx except 501 Not Implemented ('a method the server does not implement will not "
        "be implemented on the next try'): an HTTP 501 is raised at once instead of retried, "
        "although the contract makes any 5xx transient; 500, 502-599, 408, 409 and 429, the "
        "transport errors and every permanent status are classified right",
        (_STATUS_RULE,
         "        if error.status_code == 501:  # Not Implemented stays not implemented\n"
         "            return False\n"
         + _STATUS_RULE),
    ),
    _m(
        "repeated-refusal-fails-fast",
        # stopping before a success the limit allows is retries-transient's (README); the
        # RetryError it gives up with carries the attempts made and the last error, and
        # no wait follows the attempt it stops on
        {"lab01.retries-transient"},
        "borrows a circuit breaker's fail-fast rule: 'a refused connection means nothing "
        "listens on that port; once is a restart, twice in a row is an outage, so stop "
        "hammering it': after two consecutive refused connections (ConnectionRefusedError, "
        "httpx.ConnectError, or the OpenAI client's APIConnectionError caused by one) "
        "retry_call gives up with RetryError(attempts so far, that error) although the "
        "policy allows more attempts, so a server that comes back on the third or fourth "
        "attempt is never reached; a single refusal between other failures, timeouts, "
        "HTTP errors and runs of them retry up to the limit as they should",
        (_LOOP_TO_GIVE_UP,
         """\
    refused = 0  # refused connections in a row
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            refused = refused + 1 if _refused(error) else 0
            if attempt == policy.max_attempts or refused == 2:  # nothing listens: an outage
                raise RetryError(attempt, error) from error
"""),
        (_HELPERS_HEAD,
         '''\
def _refused(error: BaseException) -> bool:
    """Nothing accepted the connection (directly, or under the OpenAI client's error)."""
    refused = (ConnectionRefusedError, httpx.ConnectError)
    return isinstance(error, refused) or isinstance(error.__cause__, refused)


''' + _HELPERS_HEAD),
    ),
    # -- lab01.exponential-backoff ----------------------------------------------------------
    _m(
        "cap-applied-before-base",
        # with base_delay below 1 the waits stop short of the cap (base * max_delay): the
        # backoff's "reaching the cap" (exponential-backoff); with base_delay above 1 they
        # go past it: "never above the cap" (capped-with-jitter); with the default base of
        # 1 s nothing changes, and jitter draws from the code's own capped backoff
        {"lab01.exponential-backoff", "lab01.capped-with-jitter"},
        "'cap the growth, not the product, so that base * factor ** n can never overflow': "
        "computes base_delay * min(max_delay, factor ** n), the cap applied to the factor's "
        "power before base_delay multiplies it; with the default base_delay of 1 s the "
        "waits are exactly 1, 2, 4, ... 30 s, but base_delay=0.5 stops growing at 15 s "
        "(0.5 * 30) instead of reaching the 30 s cap, and base_delay=2 waits 2, 4, ..., 32, "
        "then 60 s, past a 30 s cap; base_delay 0 still gives 0 and a huge retry number "
        "does not raise",
        (_OVERFLOW_AND_CAP,
         """\
    try:
        growth = policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        growth = float("inf")
    capped = policy.base_delay * min(policy.max_delay, growth)  # cap the growth
"""),
    ),
    # -- lab01.no-sleep-after-last ----------------------------------------------------------
    _m(
        "client-retries-moved-into-policy",
        {"lab01.no-sleep-after-last"},
        "'turning the client's retries off must not cost the caller the retries it asked "
        "its client for: they move into our layer': RetryingLLM runs with a policy of "
        "max(policy.max_attempts, client.max_retries + 1) attempts, so with the default "
        "client (max_retries=2) a policy of 1 or 2 attempts makes 3 requests, waiting "
        "after what should have been the last attempt (and a client built with "
        "max_retries=5 gets 6); the default policy of 4 attempts, retry_call used "
        "directly, and a client whose retries are 0 keep to the limit",
        (_IMPORT_DATACLASS, "from dataclasses import dataclass, replace\n"),
        (_KEPT_POLICY,
         "        # the retries the caller asked its client for are ours to make now\n"
         "        self.policy = replace(\n"
         "            policy, max_attempts=max(policy.max_attempts, client.max_retries + 1)\n"
         "        )\n"),
    ),
    # -- lab01.gives-up-with-last-error -----------------------------------------------------
    _m(
        "give-up-log-reads-error-body",
        {"lab01.gives-up-with-last-error"},
        "logs why it gave up with the server's own words, error.body['message'] (the "
        "OpenAI client puts the body's 'error' object on the error), guarded by 'error.body "
        "is not empty': with OpenAI's JSON error bodies the log line is written and the "
        "RetryError raised, but when the final failure is an HTTP error whose body is not "
        "JSON (a proxy's or load balancer's HTML 502/503 page, a plain-text body) the body "
        "is that text, and str['message'] raises TypeError out of retry_call instead of "
        "the RetryError (a JSON body without 'message', as other OpenAI-compatible servers "
        "send, raises KeyError); such bodies on earlier attempts, empty bodies, and final "
        "timeouts or connection errors give up right",
        ("import httpx\n", "import logging\n\nimport httpx\n"),
        (_CONSTANTS, _CONSTANTS + "\n_log = logging.getLogger(__name__)\n"),
        (_GIVE_UP,
         """\
            if attempt == policy.max_attempts:
                if isinstance(error, openai.APIStatusError) and error.body:
                    # say what the server said: OpenAI's error object has a message
                    _log.warning("giving up after %d attempts: %s",
                                 attempt, error.body["message"])  # type: ignore[index]
                raise RetryError(attempt, error) from error
"""),
    ),
    # -- lab01.permanent-not-retried --------------------------------------------------------
    _m(
        "dns-failure-transient",
        {"lab01.permanent-not-retried"},
        "'a DNS lookup that fails is a network blip', as urllib3 and requests treat it "
        "(their NewConnectionError / ConnectionError wraps it and is retried): "
        "socket.gaierror joins the transient errors, so a plain callable whose host does "
        "not resolve (a misspelt or undeployed hostname, which stays so however often it "
        "is looked up) is retried, waited on and finally wrapped in RetryError, although "
        "gaierror is an OSError that is neither TimeoutError nor ConnectionError and so "
        "permanent; other OSErrors are still raised at once, and the OpenAI client is "
        "unaffected (it raises APIConnectionError, transient anyway)",
        (_IMPORT_RANDOM, _IMPORT_RANDOM + "import socket\n"),
        (_TRANSIENT_TYPES,
         "(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError,\n"
         "         socket.gaierror)"),
    ),
    _m(
        "context-length-400-rewrapped",
        # retry_call is right; what RetryingLLM raises for a permanent error is the
        # permanent rule's ("raised at once, as it is", "raise what retry_call raises")
        {"lab01.permanent-not-retried"},
        "'an agent that overflows the model's context should get an error it can catch to "
        "trim its history', as LLM frameworks raise their own ContextWindowExceeded: "
        "RetryingLLM.complete catches openai.BadRequestError whose code is "
        "context_length_exceeded and raises a ContextTooLongError (a ValueError) from it, "
        "so that permanent 400 comes out wrapped instead of as it is; it is still sent "
        "once and not waited on, every other 400 and permanent error comes out as it is, "
        "and retry_call used directly is right",
        (_RETRY_ERROR_END,
         _RETRY_ERROR_END
         + '\n\nclass ContextTooLongError(ValueError):\n'
         '    """The conversation does not fit in the model\'s context window."""\n'),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        try:
            return retry_call(
                lambda: self.client.chat.completions.create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                ),
                self.policy,
                sleep=self.sleep,
                rng=self.rng,
            )
        except openai.BadRequestError as error:
            if error.code == "context_length_exceeded":  # let the agent trim and go on
                raise ContextTooLongError(
                    f"{self.model}: the conversation is longer than its context window"
                ) from error
            raise
"""),
    ),
    # -- lab01.honours-retry-after ----------------------------------------------------------
    _m(
        "zero-server-delay-means-backoff-in-loop",
        # unlike zero-is-no-answer and zero-millis-is-no-answer, server_delay itself is
        # right here (it returns 0.0): the loop reads the 0 as "no delay asked for"
        {"lab01.honours-retry-after"},
        "'if not requested:' where 'if requested is None:' belongs, in retry_call: "
        "server_delay answers 0.0 for a retry-after of 0, a retry-after-ms of 0 or an HTTP "
        "date already past (retry at once), but the loop takes that 0 for no answer and "
        "waits the computed backoff (1, 2, 4 s, jittered when jitter is on) instead of 0; "
        "server_delay called directly, and every positive server delay, are right",
        (_BACKOFF_CHOICE, "            if not requested:  # the server asked for nothing\n"),
    ),
    _m(
        "server-delay-only-from-openai-errors",
        {"lab01.honours-retry-after"},
        "'only the OpenAI client's status errors carry the failed response': server_delay "
        "reads error.response only from an openai.APIStatusError and answers None for "
        "everything else, so an httpx.HTTPStatusError, or a plain callable's own error "
        "that carries the response it failed on (error.response.headers with retry-after "
        "or retry-after-ms), gives None and the computed backoff is waited instead of the "
        "delay the server asked for; every OpenAI status error, and errors without a "
        "response, are read right",
        (_RESPONSE,
         "    # only the OpenAI client's status errors carry the failed response\n"
         "    response = error.response if isinstance(error, openai.APIStatusError) else None\n"),
    ),
    # -- lab01.capped-with-jitter -----------------------------------------------------------
    _m(
        "jitter-needs-an-rng",
        {"lab01.capped-with-jitter"},
        "'rng is optional: without a generator there is nothing to draw from, so stay "
        "deterministic': with policy.jitter on and rng=None, backoff_delay returns the "
        "capped backoff itself instead of random.uniform(0, capped), so retry_call and "
        "RetryingLLM without an rng retry in lockstep (random.seed has no effect on them); "
        "with a seeded rng the draws are exactly rng.uniform(0, capped), and without "
        "jitter nothing changes",
        (_JITTER,
         """\
    if not policy.jitter or rng is None:  # no generator handed over: no jitter
        return capped
    return rng.uniform(0.0, capped)
"""),
    ),
    _m(
        "retry-call-drops-rng",
        # unlike wrapper-forgets-rng (round 1), where retry_call used directly is right,
        # the rng is lost inside retry_call itself, so RetryingLLM (which hands it on) is
        # wrong too; backoff_delay called directly is right
        {"lab01.capped-with-jitter"},
        "threads the rng into backoff_delay's signature but forgets it at the one call "
        "site, sleep(backoff_delay(attempt - 1, policy)): with jitter on, retry_call's (and "
        "RetryingLLM's) waits are drawn from the random module instead of the seeded rng "
        "given, so the same seed gives different waits and the rng never advances; "
        "backoff_delay called with an rng, every wait without jitter, and server delays "
        "are right",
        (_BACKOFF_SLEEP, "sleep(backoff_delay(attempt - 1, policy))"),
    ),
    # -- lab01.single-retry-layer -----------------------------------------------------------
    _m(
        "no-copy-when-retries-already-off",
        {"lab01.single-retry-layer"},
        "'a client whose retries are off already needs no copy': RetryingLLM keeps the "
        "caller's client itself when its max_retries is 0 and copies it with "
        "with_options(max_retries=0) otherwise; every request is one request as long as "
        "the caller leaves its client alone, but max_retries is a plain attribute of the "
        "caller's client, and once the caller sets it (client.max_retries = 2 for its own "
        "calls) every attempt of the wrapper is retried by the client underneath, three "
        "requests per attempt, instead of going through a retries-off copy of its own; "
        "clients built with retries on are copied right",
        (_KEPT_CLIENT,
         "        # a client whose retries are off already needs no copy\n"
         "        self.client = client if client.max_retries == 0 else "
         "client.with_options(max_retries=0)\n"),
    ),
)
