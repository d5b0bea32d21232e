"""Lab 01's mutants: the mistakes a student makes with retries and backoff."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab01 = mutants_of("lab01")


_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )"""
_GIVE_UP_THEN_WAIT = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""
_WAIT_THEN_GIVE_UP = """\
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_PERMANENT_RAISED = """\
            if not is_transient(error):
                raise
"""
_JITTER = """\
    if not policy.jitter:
        return capped
    return (rng or random).uniform(0.0, capped)"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient
    _lab01(
        "timeouts-not-transient",
        "lab01.retries-transient",
        "only HTTP statuses are retried; a timeout or a dropped connection fails the agent "
        "at once (the seed's mistake 2)",
        (_TRANSIENT_FALLBACK, "    return False"),
    ),
    _lab01(
        "forgets-408-and-409",
        "lab01.retries-transient",
        "'429 and 5xx are the retryable ones': 408 and 409, which the OpenAI client retries, "
        "are forgotten",
        ("frozenset({408, 409, 429})", "frozenset({429})"),
    ),
    _lab01(
        "builtin-network-errors-not-transient",
        "lab01.retries-transient",
        "only the OpenAI client's connection errors count; a plain function's built-in "
        "TimeoutError or ConnectionError is raised",
        (
            "(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError)",
            "(openai.APIConnectionError, httpx.TransportError)",
        ),
    ),
    # -- lab01.exponential-backoff
    _lab01(
        "constant-backoff",
        "lab01.exponential-backoff",
        "waits base_delay every time: the exponent is forgotten",
        ("exponential = policy.base_delay * policy.factor**retry",
         "exponential = policy.base_delay"),
    ),
    _lab01(
        "linear-backoff",
        "lab01.exponential-backoff",
        "the wait grows by base_delay each retry (1, 2, 3 s), not by a factor",
        ("exponential = policy.base_delay * policy.factor**retry",
         "exponential = policy.base_delay * (retry + 1)"),
    ),
    _lab01(
        "exponent-from-one",
        "lab01.exponential-backoff",
        "passes the attempt number (from 1) where the retry index (from 0) belongs: "
        "the waits start at 2 s",
        ("sleep(backoff_delay(attempt - 1, policy, rng))",
         "sleep(backoff_delay(attempt, policy, rng))"),
    ),
    _lab01(
        "hardcoded-doubling",
        "lab01.exponential-backoff",
        "copies the seed's 1<<i: always doubles, ignoring the policy's factor",
        ("exponential = policy.base_delay * policy.factor**retry",
         "exponential = policy.base_delay * 2**retry"),
    ),
    # -- lab01.no-sleep-after-last
    _lab01(
        "sleeps-after-last-attempt",
        "lab01.no-sleep-after-last",
        "waits after every failure, then checks whether attempts are left (the seed's "
        "'no backoff after the last attempt' guard dropped)",
        (_GIVE_UP_THEN_WAIT, _WAIT_THEN_GIVE_UP),
    ),
    _lab01(
        "counts-retries-not-attempts",
        "lab01.no-sleep-after-last",
        "reads max_attempts as the number of retries, like the OpenAI client's "
        "max_retries: one request too many",
        ("range(1, policy.max_attempts + 1)", "range(1, policy.max_attempts + 2)"),
        ("if attempt == policy.max_attempts:", "if attempt == policy.max_attempts + 1:"),
    ),
    # -- lab01.gives-up-with-last-error
    _lab01(
        "raises-last-error-raw",
        "lab01.gives-up-with-last-error",
        "re-raises the last underlying error itself: the caller cannot tell it was retried",
        ("raise RetryError(attempt, error) from error", "raise"),
    ),
    _lab01(
        "forgets-raise-from",
        "lab01.gives-up-with-last-error",
        "raises RetryError without 'from': only __context__ is set, __cause__ stays None",
        ("raise RetryError(attempt, error) from error", "raise RetryError(attempt, error)"),
    ),
    _lab01(
        "returns-none-after-giving-up",
        "lab01.gives-up-with-last-error",
        "breaks out of the loop on the last attempt and falls off the end: returns None",
        ("raise RetryError(attempt, error) from error", "break"),
        ('raise AssertionError("unreachable: the loop returns or raises")',
         "return None  # type: ignore[return-value]"),
    ),
    _lab01(
        "keeps-the-first-error",
        "lab01.gives-up-with-last-error",
        "remembers the error that started the trouble and reports it instead of the last one",
        ("    for attempt in range(1, policy.max_attempts + 1):",
         "    first_error = None\n    for attempt in range(1, policy.max_attempts + 1):"),
        (_PERMANENT_RAISED, _PERMANENT_RAISED + "            first_error = first_error or error\n"),
        ("raise RetryError(attempt, error) from error",
         "raise RetryError(attempt, first_error) from first_error"),
    ),
    _lab01(
        "reports-retries-not-attempts",
        "lab01.gives-up-with-last-error",
        "the retry error carries the number of retries (attempts - 1), not of attempts",
        ("raise RetryError(attempt, error) from error",
         "raise RetryError(attempt - 1, error) from error"),
    ),
    # -- lab01.permanent-not-retried
    _lab01(
        "retries-every-exception",
        "lab01.permanent-not-retried",
        "'any error might go away': no transient check at all, ValueError and 400 retried",
        (_PERMANENT_RAISED, ""),
    ),
    _lab01(
        "retries-every-http-error",
        "lab01.permanent-not-retried",
        "every status from 400 up is retried, so a bad request is sent again and again",
        ("error.status_code in TRANSIENT_STATUSES or error.status_code >= 500",
         "error.status_code >= 400"),
    ),
    _lab01(
        "retries-programming-errors",
        "lab01.permanent-not-retried",
        "whatever is not an HTTP error is taken for a network hiccup: ValueError retried",
        (_TRANSIENT_FALLBACK, "    return True"),
    ),
    _lab01(
        "wraps-permanent-errors",
        "lab01.permanent-not-retried",
        "'callers should only see my error type': a 404 comes out as a RetryError",
        (_PERMANENT_RAISED,
         _PERMANENT_RAISED.replace("raise\n", "raise RetryError(attempt, error) from error\n")),
    ),
    # -- lab01.honours-retry-after
    _lab01(
        "ignores-retry-after",
        "lab01.honours-retry-after",
        "always waits the computed backoff, whatever the server asked for",
        ("requested = server_delay(error)", "requested = None"),
    ),
    _lab01(
        "ignores-retry-after-ms",
        "lab01.honours-retry-after",
        "reads only the standard retry-after header, not OpenAI's retry-after-ms",
        ('millis = _non_negative(headers.get("retry-after-ms"))', "millis = None"),
    ),
    _lab01(
        "retry-after-wins-over-ms",
        "lab01.honours-retry-after",
        "prefers the standard retry-after when both headers are present",
        ('millis = _non_negative(headers.get("retry-after-ms"))',
         'millis = None if "retry-after" in headers else '
         '_non_negative(headers.get("retry-after-ms"))'),
    ),
    _lab01(
        "retry-after-ms-as-seconds",
        "lab01.honours-retry-after",
        "forgets to divide retry-after-ms by 1000",
        ("return millis / 1000.0", "return millis"),
    ),
    _lab01(
        "server-delay-uncapped",
        "lab01.honours-retry-after",
        "'the server knows best': a retry-after of minutes is slept in full, past the cap",
        ("sleep(min(requested, policy.max_delay))", "sleep(requested)"),
    ),
    _lab01(
        "server-delay-added-to-backoff",
        "lab01.honours-retry-after",
        "adds the server's delay to the backoff instead of replacing it",
        ("sleep(min(requested, policy.max_delay))",
         "sleep(min(requested + backoff_delay(attempt - 1, policy, rng), policy.max_delay))"),
    ),
    _lab01(
        "http-date-ignored",
        "lab01.honours-retry-after",
        "reads retry-after as a number only: a server that sends an HTTP date gets the backoff",
        ("        when = email.utils.parsedate_to_datetime(text)\n",
         "        when = email.utils.parsedate_to_datetime('')\n"),
    ),
    _lab01(
        "past-date-negative",
        "lab01.honours-retry-after",
        "a retry-after date already past gives a negative wait, handed to sleep as it is",
        ("return max(0.0, when.timestamp() - time.time())",
         "return when.timestamp() - time.time()"),
    ),
    _lab01(
        "zero-is-no-answer",
        "lab01.honours-retry-after",
        "'if seconds:' takes a retry-after of 0 (retry now) for a missing header",
        ("if seconds is not None or text is None:", "if seconds or text is None:"),
    ),
    # -- lab01.capped-with-jitter
    _lab01(
        "no-cap",
        "lab01.capped-with-jitter",
        "max_delay is never applied: the 7th wait of a doubling backoff is over a minute",
        ("capped = min(policy.max_delay, exponential)", "capped = exponential"),
    ),
    _lab01(
        "jitter-escapes-the-cap",
        "lab01.capped-with-jitter",
        "the cap is applied on the plain path only: jitter draws from the uncapped backoff",
        ("uniform(0.0, capped)", "uniform(0.0, exponential)"),
    ),
    _lab01(
        "jitter-from-global-random",
        "lab01.capped-with-jitter",
        "draws from the random module instead of the rng given: a seed does not reproduce",
        ("(rng or random).uniform", "random.uniform"),
    ),
    _lab01(
        "jitter-added-on-top",
        "lab01.capped-with-jitter",
        "adds up to a second of noise to the backoff instead of drawing the whole wait",
        ("return (rng or random).uniform(0.0, capped)",
         "return capped + (rng or random).uniform(0.0, 1.0)"),
    ),
    _lab01(
        "equal-jitter",
        "lab01.capped-with-jitter",
        "keeps half the backoff and jitters the other half: waits never fall below half",
        ("return (rng or random).uniform(0.0, capped)",
         "return capped / 2 + (rng or random).uniform(0.0, capped / 2)"),
    ),
    _lab01(
        "jitter-never-below-a-second",
        "lab01.capped-with-jitter",
        "'never retry at once': jitter draws from [1 s, capped backoff], not from 0",
        ("uniform(0.0, capped)", "uniform(min(1.0, capped), capped)"),
    ),
    _lab01(
        "jitter-flag-ignored",
        "lab01.capped-with-jitter",
        "the jitter option is accepted but never used: clients retry in lockstep",
        (_JITTER, "    return capped"),
    ),
    # -- lab01.single-retry-layer
    _lab01(
        "keeps-client-retries",
        "lab01.single-retry-layer",
        "uses the client as given, its own max_retries=2 still on: 3 attempts, 9 requests",
        ("self.client = client.with_options(max_retries=0)", "self.client = client"),
    ),
    _lab01(
        "max-retries-one",
        "lab01.single-retry-layer",
        "'max_retries=1 means one try': the client still retries once per attempt",
        ("with_options(max_retries=0)", "with_options(max_retries=1)"),
    ),
    _lab01(
        "with-options-result-dropped",
        "lab01.single-retry-layer",
        "calls with_options(max_retries=0) as if it changed the client, and keeps the original",
        ("self.client = client.with_options(max_retries=0)",
         "client.with_options(max_retries=0)\n        self.client = client"),
    ),
)
