"""Round 11 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_DATETIME = "import datetime\n"
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_TRY_RETURN = """\
        try:
            return fn()
        except Exception as error:
"""
_PERMANENT_RAISED = """\
            if not is_transient(error):
                raise
"""
_GIVE_UP = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_WAIT = """\
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""
_JITTER_DRAW = "    return (rng or random).uniform(0.0, capped)\n"
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
        "same-error-object-deemed-cached",
        # gives up early with a well-formed RetryError(attempts made, that error), no wait
        # after it: only the success the limit allows is lost (retries-transient)
        {"lab01.retries-transient"},
        "'a function that raises the very same exception object again is replaying a "
        "cached failure (a memoised call, a circuit that stays open): retrying it is "
        "pointless': retry_call remembers the last error and, when fn raises the identical "
        "object again, gives up at once with RetryError(attempt, error); a fn that raises "
        "a fresh error each time (the OpenAI client does) is retried right, but a callable "
        "that raises one prebuilt TimeoutError twice and then succeeds (Mock(side_effect="
        "[err, err, 'ok'])) gives up at attempt 2 and the success the limit allows is lost",
        (_LOOP_HEAD, "    previous: BaseException | None = None\n" + _LOOP_HEAD),
        (_GIVE_UP,
         "            if attempt == policy.max_attempts or error is previous:  # a replay\n"
         "                raise RetryError(attempt, error) from error\n"
         "            previous = error\n"),
    ),
    _m(
        "caller-timeout-treated-as-deadline",
        {"lab01.retries-transient"},
        "reads a per-request timeout option as the caller's hard budget ('a request that "
        "did not fit in the timeout will not fit the next time either'): when complete "
        "is given a timeout option and an attempt ends in openai.APITimeoutError, "
        "RetryingLLM gives up at once with RetryError(attempts so far, that error) "
        "instead of retrying it; timeouts without a timeout option, 5xx, 429 and "
        "connection errors with one, and retry_call used directly are retried right, so "
        "only the combination timeout option + timed-out attempt loses the later success",
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        made = 0

        def send() -> ChatCompletion:
            nonlocal made
            made += 1
            try:
                return self.client.chat.completions.create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                )
            except openai.APITimeoutError as error:
                if options.get("timeout") is not None:  # the caller's budget is spent
                    raise RetryError(made, error) from error
                raise

        return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
"""),
    ),
    # -- lab01.exponential-backoff ----------------------------------------------------------
    _m(
        "backoff-less-attempt-duration",
        # the plain waits are base * factor ** n less the attempt's duration
        # (exponential-backoff); with jitter on, the wait is the draw less that duration,
        # not exactly rng.uniform(0, capped) (capped-with-jitter); the server's delay is
        # waited in full and no wait exceeds the cap
        {"lab01.exponential-backoff", "lab01.capped-with-jitter"},
        "paces retries by their start times, as a rate limiter does ('the backoff is "
        "measured from when the failed attempt began'): retry_call notes time.monotonic() "
        "before each attempt and sleeps the backoff less the time the attempt took, never "
        "below 0; with instant failures the waits are 1, 2, 4 s, but when the mocked LLM "
        "takes 1.5 s before its 503 (the frozen clock advanced) the sleeps are 0, 0.5, 2.5 "
        "s and the gaps between the failure and the next request are shorter than "
        "base * factor ** n; server-chosen waits are slept in full",
        (_LOOP_HEAD, _LOOP_HEAD + "        started = time.monotonic()\n"),
        ("                sleep(backoff_delay(attempt - 1, policy, rng))\n",
         "                took = time.monotonic() - started  # the backoff counts from the start\n"
         "                sleep(max(0.0, backoff_delay(attempt - 1, policy, rng) - took))\n"),
    ),
    _m(
        "backoff-chained-from-last-wait",
        # only the computed waits after a server-chosen wait are wrong; the server's own
        # wait is honoured (capped), the cap holds, and without a server delay the chain
        # equals base * factor ** n
        {"lab01.exponential-backoff"},
        "ports the Go chapter's loop 'time.Sleep(wait); wait *= factor' literally: the "
        "next computed wait is the previous wait times factor (capped), and a wait the "
        "server chose becomes the previous wait; without retry-after the chain is 1, 2, "
        "4, 8 s as it should be, but after a 429 with retry-after: 10 the next computed "
        "wait is 20 s instead of base * factor ** n (4 s for the third retry); jitter is "
        "drawn from the chained value too",
        (_LOOP_HEAD, "    wait = policy.base_delay  # Go: wait *= factor after each sleep\n"
         + _LOOP_HEAD),
        (_WAIT,
         """\
            requested = server_delay(error)
            if requested is None:
                capped = min(policy.max_delay, wait)
                slept = (rng or random).uniform(0.0, capped) if policy.jitter else capped
                sleep(slept)
                wait = capped * policy.factor
            else:
                slept = min(requested, policy.max_delay)
                sleep(slept)
                wait = slept * policy.factor
"""),
    ),
    # -- lab01.no-sleep-after-last ----------------------------------------------------------
    _m(
        "cool-down-after-recovery",
        {"lab01.no-sleep-after-last"},
        "'a server that just recovered is fragile: give it a breath before the next "
        "request' (a pacing habit from client-side rate limiters): when fn succeeds after "
        "one or more failed attempts, retry_call sleeps base_delay before returning the "
        "result; a first-try success and a give-up are right, but a call that fails once "
        "and then succeeds shows a wait after its final (successful) attempt",
        (_TRY_RETURN,
         """\
        try:
            result = fn()
            if attempt > 1:  # just recovered: let the server breathe
                sleep(policy.base_delay)
            return result
        except Exception as error:
"""),
    ),
    # -- lab01.gives-up-with-last-error -----------------------------------------------------
    _m(
        "server-paced-give-up-raised-raw",
        {"lab01.gives-up-with-last-error"},
        "'when the server said when to come back, hand its error (headers and all) to the "
        "caller so it can reschedule the job': when the final attempt fails with an error "
        "that carries a usable retry-after or retry-after-ms, retry_call re-raises that "
        "error itself instead of RetryError(attempts, error); a final 503 or timeout "
        "without such a header gives up right, and every wait is unchanged",
        (_GIVE_UP,
         "            if attempt == policy.max_attempts:\n"
         "                if server_delay(error) is not None:  # the caller can reschedule\n"
         "                    raise\n"
         "                raise RetryError(attempt, error) from error\n"),
    ),
    # -- lab01.permanent-not-retried --------------------------------------------------------
    _m(
        "auth-error-resent-with-fresh-key",
        # the resend is made only when the policy allows a second attempt and through the
        # retries-off copy, so the limit and the single layer hold
        {"lab01.permanent-not-retried"},
        "copies the token-refresh pattern of Azure AD clients ('a 401 means the key was "
        "rotated'): when RetryingLLM's call ends in openai.AuthenticationError, it rebuilds "
        "its client copy with the api_key read again from OPENAI_API_KEY (or the same key) "
        "and sends the request once more, returning that answer or raising its error; a "
        "401 reaches the server twice instead of being raised after one request; 400, "
        "403, 404, 422 and retry_call used directly are right",
        ("import random\n", "import os\nimport random\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)

        def send() -> ChatCompletion:
            return self.client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            )

        try:
            return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
        except openai.AuthenticationError:
            if self.policy.max_attempts < 2:
                raise
            # the key may have been rotated: read it again and try once more
            key = os.environ.get("OPENAI_API_KEY") or self.client.api_key
            self.client = self.client.with_options(api_key=key)
            return send()
"""),
    ),
    # -- lab01.honours-retry-after ----------------------------------------------------------
    _m(
        "http-date-against-whole-second-now",
        {"lab01.honours-retry-after"},
        "'HTTP dates have whole seconds, so compare whole seconds': server_delay takes "
        "the seconds until a retry-after date from int(time.time()); on a clock standing "
        "at a whole second that is right, but with the clock at 12:00:00.6 a date of "
        "12:00:05 gives 5 s instead of 4.4 s; numeric retry-after and retry-after-ms are "
        "right",
        ("return max(0.0, when.timestamp() - time.time())",
         "return max(0.0, when.timestamp() - int(time.time()))  # HTTP dates: whole seconds"),
    ),
    _m(
        "retry-after-fallback-read-as-millis",
        {"lab01.honours-retry-after"},
        "folds the two header lookups into one with a fallback, "
        "headers.get('retry-after-ms', headers.get('retry-after')), and divides by 1000: "
        "with retry-after-ms present (the OpenAI server's usual answer) that is right, and "
        "an HTTP date still falls through to the date branch, but a server that sends only "
        "a numeric retry-after: 5 gets a wait of 0.005 s instead of 5 s",
        ('millis = _non_negative(headers.get("retry-after-ms"))',
         'millis = _non_negative(headers.get("retry-after-ms", headers.get("retry-after")))'),
    ),
    # -- lab01.capped-with-jitter -----------------------------------------------------------
    _m(
        "jitter-scaled-from-random",
        # unlike openai-style-jitter-formula (round 7), whose values differ from uniform's,
        # this gives exactly uniform's values for a plain Random: it differs only where the
        # contract names the call, rng.uniform (an rng whose uniform is overridden, or a
        # patched random.uniform when rng is None)
        {"lab01.capped-with-jitter"},
        "ports the AWS article's Go pseudocode 'rand.Float64() * capped' as "
        "rng.random() * capped ('uniform is just random() scaled'): for a plain seeded "
        "random.Random the waits are the same numbers, but the contract asks for exactly "
        "rng.uniform(0, capped): an rng whose uniform is overridden (a test double "
        "returning the top of the range) or a patched random.uniform when no rng is given "
        "is never asked, and the waits are not its draws",
        (_JITTER_DRAW, "    return (rng or random).random() * capped  # Go: rand.Float64() * capped\n"),
    ),
    _m(
        "jitter-floored-at-a-millisecond",
        {"lab01.capped-with-jitter"},
        "'never sleep(0) in a retry loop: a zero wait busy-loops a failing server': the "
        "jittered wait is max(draw, 0.001); with a normal backoff the draw is almost never "
        "below a millisecond, but with base_delay 0 (or max_delay 0) and jitter on every "
        "wait is 0.001 s, above the capped backoff of 0, and a draw under 1 ms is not the "
        "rng's uniform(0, capped); without jitter nothing changes",
        (_JITTER_DRAW,
         "    return max((rng or random).uniform(0.0, capped), 0.001)  # never busy-loop\n"),
    ),
    # -- lab01.single-retry-layer -----------------------------------------------------------
    _m(
        "client-retries-back-for-last-attempt",
        # our layer still makes at most max_attempts attempts (retry_call is right); what
        # breaks is the RetryingLLM contract: more requests than max_attempts reach the
        # server through the caller's retrying client
        {"lab01.single-retry-layer"},
        "'the last attempt is the last chance: let the SDK's own retries back it up': "
        "RetryingLLM keeps the caller's client besides its retries-off copy and sends the "
        "final attempt of a call through the caller's client (max_retries=2); a call that "
        "succeeds before its last attempt sends the configured requests, but one whose "
        "every attempt fails reaches the server max_attempts + 2 times (6 for the default "
        "4) with the client's own waits slept in between",
        (_KEPT_CLIENT, "        self._given = client  # the SDK's retries, for the last attempt\n"
         + _KEPT_CLIENT),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        made = 0

        def send() -> ChatCompletion:
            nonlocal made
            made += 1
            last = made >= self.policy.max_attempts
            client = self._given if last else self.client  # last chance: SDK retries too
            return client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            )

        return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
"""),
    ),
)
