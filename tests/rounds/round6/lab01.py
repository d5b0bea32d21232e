"""Round 6 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_CONSTANTS = "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
_STATUS_RULE = """\
    if isinstance(error, openai.APIStatusError):
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""
_TRANSIENT_TYPES = (
    "(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError)"
)
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
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
_SERVER_SLEEP = "                sleep(min(requested, policy.max_delay))\n"
_OVERFLOW_TRY = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
"""
_NO_JITTER = "    if not policy.jitter:\n        return capped\n"
_DRAW = "    return (rng or random).uniform(0.0, capped)"
_DATE_DIFFERENCE = "    return max(0.0, when.timestamp() - time.time())\n"
_KEPT_RNG = "        self.rng = rng\n"
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
        "insufficient-quota-429-not-retried",
        {"lab01.retries-transient"},
        "has read OpenAI's error-code guide, where a 429 is either a rate limit "
        "(rate_limit_exceeded) or an empty account (insufficient_quota, 'You exceeded your "
        "current quota'), and decides the second is a billing problem no retry cures: a 429 "
        "whose error body carries code insufficient_quota is raised at once instead of "
        "retried, although the contract classifies an APIStatusError by its status_code "
        "alone and every 429 is transient; 429s with any other code (or none), 408, 409 "
        "and the 5xx are retried right",
        (_STATUS_RULE,
         """\
    if isinstance(error, openai.APIStatusError):
        if getattr(error, "code", None) == "insufficient_quota":
            return False  # a 429 for an empty account, not a rate limit: it stays empty
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""),
    ),
    _m(
        "retry-throttling-across-calls",
        # stopping before a success the limit allows is retries-transient's (README); the
        # RetryError of a throttled call carries the attempts really made (1) and the last
        # error, and no call ever makes more attempts than the policy allows
        {"lab01.retries-transient"},
        "copies gRPC's retryThrottling into RetryingLLM: a token bucket of 10 shared by "
        "every call of one wrapper, each failed request takes a token, each success gives "
        "back 0.1, and while the bucket is at half or less a call gets a single attempt "
        "('do not pile retries on a struggling server'); a lone call, or the notebook's "
        "deploy (3 failures), is unaffected, but after five or more failed requests on "
        "one wrapper (two calls that gave up, say) the next call stops after its first "
        "transient failure with RetryError(1, ...) and a success its policy's later "
        "attempts would have brought is lost; retry_call used directly is right",
        ("from dataclasses import dataclass\n", "from dataclasses import dataclass, replace\n"),
        (_CONSTANTS,
         _CONSTANTS
         + "#: gRPC-style retry throttling: one token bucket for every call of a RetryingLLM.\n"
         "RETRY_TOKENS = 10.0\n"
         "RETRY_TOKEN_RATIO = 0.1\n"),
        (_KEPT_RNG, _KEPT_RNG + "        self._retry_tokens = RETRY_TOKENS\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        policy = self.policy
        if self._retry_tokens <= RETRY_TOKENS / 2:  # the server is struggling: no retries
            policy = replace(policy, max_attempts=1)

        def send() -> ChatCompletion:
            try:
                response = self.client.chat.completions.create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                )
            except Exception:
                self._retry_tokens = max(0.0, self._retry_tokens - 1.0)
                raise
            self._retry_tokens = min(RETRY_TOKENS, self._retry_tokens + RETRY_TOKEN_RATIO)
            return response

        return retry_call(send, policy, sleep=self.sleep, rng=self.rng)
"""),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "rng-given-means-jitter",
        # jitter off, so capped-with-jitter's "with jitter on" rule is not at stake: the
        # waits without jitter are no longer base * factor ** n, which is this item's rule
        {"lab01.exponential-backoff"},
        "'handing in a seeded rng is asking for reproducible jitter': backoff_delay "
        "returns the plain capped backoff only when jitter is off AND no rng is given, so "
        "RetryPolicy(jitter=False) with an rng (retry_call's or RetryingLLM's) waits "
        "rng.uniform(0, capped) instead of base * factor ** n; with rng=None, and with "
        "jitter on, every wait is right",
        (_NO_JITTER,
         "    if not policy.jitter and rng is None:  # an rng given is a request for jitter\n"
         "        return capped\n"),
    ),
    _m(
        "seed-guard-ported-one-based",
        # the missing wait is a computed one (exponential-backoff) or, when the failure
        # before the last attempt asked for a delay, the server's (honours-retry-after);
        # every other wait, the attempt count and the give-up are right
        {"lab01.exponential-backoff", "lab01.honours-retry-after"},
        "ports the seed's 'no backoff after the last attempt' guard, if i < maxRetries-1, "
        "as it stands into a loop whose attempt counts from 1 (beside the give-up check "
        "it already has): the guard is one too strict, so the wait before the final "
        "attempt is skipped and the last request follows the one before it at once "
        "(max_attempts=4 waits 1, 2 s and then nothing; max_attempts=2 never waits), and "
        "a retry-after on the second-to-last failure is not honoured either",
        (_WAIT,
         "            if attempt < policy.max_attempts - 1:  # the seed's guard: i < maxRetries-1\n"
         + "".join("    " + line + "\n" for line in _WAIT.splitlines())),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "cooldown-after-giving-up",
        {"lab01.no-sleep-after-last"},
        "'an agent loop that gets a RetryError tends to call again at once, into a server "
        "that is down': RetryingLLM.complete catches the RetryError, sleeps a short "
        "cool-down (base_delay, within the cap) and re-raises it, so after the final "
        "failed attempt there is a wait before the caller hears about it; retry_call used "
        "directly, permanent errors and successes are right, and the request count too",
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
        except RetryError:
            # cool down before handing the failure back: the caller's next call should not
            # hit a server that is down at once
            self.sleep(min(self.policy.base_delay, self.policy.max_delay))
            raise
"""),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "timeout-on-last-attempt-raised-raw",
        {"lab01.gives-up-with-last-error"},
        "'a timeout must stay a timeout, so that the deadline layer (lab 03) recognises "
        "it': when the final attempt times out (openai.APITimeoutError, "
        "httpx.TimeoutException, TimeoutError), the timeout itself is re-raised instead "
        "of RetryError(attempts, it) from it; calls whose last failure is an HTTP error or "
        "a refused connection give up with the RetryError as they should",
        (_GIVE_UP,
         """\
            if attempt == policy.max_attempts:
                if isinstance(error, (openai.APITimeoutError, httpx.TimeoutException,
                                      TimeoutError)):
                    raise  # a timeout stays a timeout: the deadline layer must see it
                raise RetryError(attempt, error) from error
"""),
    ),
    _m(
        "exception-group-as-cause",
        {"lab01.gives-up-with-last-error"},
        "'the traceback should show every attempt, not just the last': the RetryError "
        "carries the last error as last_error and the right attempt count, but is raised "
        "from an ExceptionGroup of all the call's failures (Python 3.11), so its __cause__ "
        "is that group instead of the last underlying error, even with a single attempt",
        (_LOOP_HEAD, "    failures: list[Exception] = []  # every attempt's error\n" + _LOOP_HEAD),
        (_PERMANENT_RAISED + _GIVE_UP,
         _PERMANENT_RAISED
         + "            failures.append(error)\n"
         "            if attempt == policy.max_attempts:\n"
         "                raise RetryError(attempt, error) from ExceptionGroup(\n"
         "                    f\"all {attempt} attempts failed\", failures\n"
         "                )\n"),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "eagain-and-eintr-transient",
        {"lab01.permanent-not-retried"},
        "carries over the C habit of retrying EAGAIN and EINTR: BlockingIOError "
        "('Resource temporarily unavailable') and InterruptedError join the transient "
        "errors, so a wrapped function that raises one is retried, waited on and finally "
        "wrapped in RetryError, although only TimeoutError and ConnectionError among the "
        "OSErrors are transient and everything else is permanent; other OSErrors "
        "(FileNotFoundError, PermissionError) are still raised at once",
        (_TRANSIENT_TYPES,
         "(\n"
         "            openai.APIConnectionError, httpx.TransportError, TimeoutError,"
         " ConnectionError,\n"
         "            BlockingIOError, InterruptedError,  # EAGAIN / EINTR: try again\n"
         "        )"),
    ),
    _m(
        "permanent-after-retries-wrapped",
        {"lab01.permanent-not-retried"},
        "'once we have retried, the caller should know the call was retried': a permanent "
        "error is still never retried, but when it comes after one or more transient "
        "failures (a 503, then a 401 or a ValueError) it is raised as RetryError(attempt, "
        "error) from it instead of as it is; a permanent error on the first attempt is "
        "raised unwrapped",
        (_PERMANENT_RAISED,
         """\
            if not is_transient(error):
                if attempt > 1:  # we did retry: say so
                    raise RetryError(attempt, error) from error
                raise
"""),
    ),
    _m(
        "one-blind-retry-for-any-error",
        {"lab01.permanent-not-retried"},
        "'any first failure may be a fluke': every error, permanent or not, gets one more "
        "go after the usual wait, and only transient errors earn the retries after that, "
        "so a 400, 404 or ValueError on the first attempt is waited on and sent a second "
        "time (and raised as it is if it fails again, or its success returned); a "
        "permanent error on a later attempt, or with max_attempts=1, is raised at once",
        (_PERMANENT_RAISED,
         "            if not is_transient(error) and (attempt > 1 or attempt == policy.max_attempts):\n"
         "                raise  # anything may be a fluke once: only transient errors earn more\n"),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "server-delay-rounded-up",
        {"lab01.honours-retry-after"},
        "'never come back before the server said, and Retry-After is whole seconds "
        "anyway': the server's delay is rounded up with math.ceil before it is capped and "
        "slept, so retry-after-ms 6500 waits 7 s and 250 waits 1 s instead of 6.5 and "
        "0.25, and an HTTP date a fraction of a second ahead waits a whole second; whole "
        "seconds, 0, the cap and server_delay itself are right",
        ("import email.utils\n", "import email.utils\nimport math\n"),
        (_SERVER_SLEEP,
         "                sleep(min(math.ceil(requested), policy.max_delay))  # never early\n"),
    ),
    _m(
        "http-date-against-naive-now",
        {"lab01.honours-retry-after"},
        "computes the wait until a retry-after HTTP date with datetime arithmetic, "
        "(when - datetime.now()).total_seconds(), but parsedate_to_datetime returns an "
        "aware datetime for a 'GMT' date and datetime.now() is naive: the subtraction "
        "raises TypeError out of server_delay and out of the retry loop instead of giving "
        "the seconds until that date (or 0 for a past one); numeric retry-after and "
        "retry-after-ms are read right",
        ("import email.utils\n", "import datetime\nimport email.utils\n"),
        (_DATE_DIFFERENCE,
         "    return max(0.0, (when - datetime.datetime.now()).total_seconds())\n"),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "jitter-rounded-to-milliseconds",
        {"lab01.capped-with-jitter"},
        "'no sleep is finer than a millisecond, and the logs read better': the jittered "
        "wait is round(rng.uniform(0, capped), 3), so the waits are no longer exactly "
        "rng.uniform(0, capped) (off by up to half a millisecond, a capped backoff under "
        "0.5 ms always jitters to 0, and a draw just under the cap may round above it); "
        "without jitter nothing changes",
        (_DRAW, "    return round((rng or random).uniform(0.0, capped), 3)  # whole milliseconds"),
    ),
    _m(
        "constant-backoff-shortcut",
        # a wait above the cap and a jitter not drawn are both capped-with-jitter's (README)
        {"lab01.capped-with-jitter"},
        "adds a shortcut for constant backoff in front of the overflow guard ('factor 1: "
        "nothing grows, nothing can overflow, the wait is base_delay'), forgetting that "
        "the cap and the jitter come after it: with factor=1 and jitter on every wait is "
        "exactly base_delay instead of rng.uniform(0, capped) (the rng is not drawn), and "
        "with factor=1 and a base_delay above max_delay the waits exceed the cap; every "
        "factor above 1 is right",
        (_OVERFLOW_TRY,
         "    if policy.factor == 1:  # constant backoff: nothing grows, nothing overflows\n"
         "        return policy.base_delay\n" + _OVERFLOW_TRY),
    ),
)
