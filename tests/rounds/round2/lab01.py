"""Round 2 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_CLASSIFY_THEN_GIVE_UP = """\
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )"""
_GIVE_UP_WAIT_AND_END = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
    raise AssertionError("unreachable: the loop returns or raises")
"""
_RETRY_LOOP = _LOOP_HEAD + """\
        try:
            return fn()
        except Exception as error:
""" + _CLASSIFY_THEN_GIVE_UP + """\
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""
_OVERFLOW = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        exponential = float("inf") if policy.base_delay > 0 else 0.0
"""
_USABLE = 'return value if value >= 0 and value != float("inf") else None'
_MILLIS_FIRST = """\
    millis = _non_negative(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient ------------------------------------------------------------
    _m(
        "exact-type-lookup-misses-subclasses",
        {"lab01.retries-transient"},
        "replaces the isinstance chain by a set of the transient classes and looks up "
        "type(error) in it ('a set lookup is cleaner'): the classes named in the docstring "
        "match only themselves, so their subclasses, openai.APITimeoutError (which the "
        "docstring says APIConnectionError includes), httpx.ConnectError/ReadTimeout and "
        "ConnectionResetError/ConnectionRefusedError, are raised at once instead of retried; "
        "a refused connection through the OpenAI client (exactly APIConnectionError) and "
        "a bare TimeoutError still are",
        ("TRANSIENT_STATUSES = frozenset({408, 409, 429})\n",
         "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
         "#: Failures without a status that are worth another attempt.\n"
         "TRANSIENT_TYPES = frozenset(\n"
         "    {openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError}\n"
         ")\n"),
        (_TRANSIENT_FALLBACK, "    return type(error) in TRANSIENT_TYPES"),
    ),
    _m(
        "messages-generator-sent-as-is",
        # the docstring's "read once: every attempt sends the same messages"; the retry of a
        # transient failure is no longer the same request
        {"lab01.retries-transient"},
        "'the client accepts any iterable of messages, why copy it?': passes messages "
        "straight through; with a list nothing changes, but with a generator (or any "
        "one-shot iterable) the first attempt consumes it, so the retry after a 503 sends an "
        "empty conversation and the 'success' returned answers nothing that was asked",
        ("        request = list(messages)\n", "        request = messages\n"),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "no-wait-after-timeout",
        {"lab01.exponential-backoff"},
        "'a timed-out request already made us wait for its whole timeout, waiting again on "
        "top doubles it': after a timeout the next attempt is sent at once, so the gap "
        "after a timed-out request is its timeout alone instead of the timeout plus "
        "base*factor**n; after HTTP errors and refused connections the waits are right",
        ("            requested = server_delay(error)\n",
         "            if isinstance(error, (openai.APITimeoutError, httpx.TimeoutException,"
         " TimeoutError)):\n"
         "                continue  # the timeout itself was the wait\n"
         "            requested = server_delay(error)\n"),
    ),
    _m(
        "overflow-fallback-ignores-zero-base",
        # the docstring: "the formula still decides ... (and a base_delay of 0 still gives 0)"
        {"lab01.exponential-backoff"},
        "handles 2.0 ** 5000 with the obvious 'past any float: infinity, let the cap decide', "
        "forgetting the docstring's 'a base_delay of 0 still gives 0': with base_delay=0 "
        "every wait is 0 until the exponent overflows (retry >= 1024 for factor 2), then "
        "it jumps to max_delay (0 * inf is nan, and min(max_delay, nan) is max_delay)",
        ('exponential = float("inf") if policy.base_delay > 0 else 0.0',
         'exponential = float("inf")'),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "server-paced-retries-not-counted",
        {"lab01.no-sleep-after-last"},
        "'a 429 with retry-after is the server pacing us, not a failed attempt of ours' (as "
        "some SDKs keep throttling retries out of the attempt budget): failures whose wait "
        "the server chose do not count toward max_attempts, so with retry-after headers "
        "the server sees more requests than the limit, and a wait follows what should "
        "have been the final attempt; the backoff index and the reported count are right",
        (_RETRY_LOOP,
         """\
    attempt = 0
    paced = 0  # failures whose wait the server chose: its pacing, not our attempts
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            requested = server_delay(error)
            if requested is not None:
                paced += 1
            if attempt - paced >= policy.max_attempts:
                raise RetryError(attempt, error) from error
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "exception-variable-read-after-except",
        {"lab01.gives-up-with-last-error"},
        "moves the give-up after the loop, Python 2 style: 'sleep only if another attempt "
        "follows, and when the loop ends raise RetryError from the error we caught'; but "
        "Python 3 deletes the 'as error' name at the end of the except block, so when "
        "every attempt fails the caller gets UnboundLocalError instead of the RetryError",
        (_GIVE_UP_WAIT_AND_END,
         """\
            if attempt < policy.max_attempts:
                requested = server_delay(error)
                if requested is None:
                    sleep(backoff_delay(attempt - 1, policy, rng))
                else:
                    sleep(min(requested, policy.max_delay))
    raise RetryError(policy.max_attempts, error) from error
"""),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "give-up-check-before-classifying",
        {"lab01.permanent-not-retried"},
        "checks 'are we out of attempts?' before 'is it worth another?': a permanent error "
        "on the final attempt (after some transient ones, or the only attempt with "
        "max_attempts=1) comes out wrapped in RetryError instead of as it is; earlier "
        "permanent errors are still raised at once",
        (_CLASSIFY_THEN_GIVE_UP,
         """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            if not is_transient(error):
                raise
"""),
    ),
    _m(
        "httpx-http-error-family-retried",
        {"lab01.permanent-not-retried"},
        "takes httpx.HTTPError, the base of httpx's exceptions, for 'httpx's network "
        "errors': a plain callable's response.raise_for_status() failure "
        "(httpx.HTTPStatusError for a 404 or 401), a TooManyRedirects or a DecodingError is "
        "retried, waited on and finally wrapped in RetryError; the OpenAI client is "
        "unaffected since it raises its own classes",
        ("(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError)",
         "(openai.APIConnectionError, httpx.HTTPError, TimeoutError, ConnectionError)"),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "unusable-retry-after-ms-hides-retry-after",
        {"lab01.honours-retry-after"},
        "'retry-after-ms wins when present' taken literally: once the header is there its "
        "value decides, so an unreadable, negative or infinite retry-after-ms gives None "
        "and the backoff is used even though a good retry-after sits beside it",
        (_MILLIS_FIRST,
         """\
    if "retry-after-ms" in headers:  # the precise one wins when it is there
        millis = _non_negative(headers["retry-after-ms"])
        return None if millis is None else millis / 1000.0
"""),
    ),
    _m(
        "negative-retry-after-clamped-to-zero",
        {"lab01.honours-retry-after"},
        "'a date in the past gives 0, so a negative number of seconds is a time already "
        "past too': a negative retry-after or retry-after-ms is clamped to 0 and the retry "
        "is sent at once, instead of counting as absent and leaving the decision to the "
        "other header or the backoff (a negative retry-after-ms even beats a good "
        "retry-after)",
        (_USABLE,
         'return max(0.0, value) if value != float("inf") else None  # past: retry now'),
    ),
    _m(
        "infinite-retry-after-accepted",
        {"lab01.honours-retry-after"},
        "validates 'negative' but not 'infinite': float() reads 'inf', 'Infinity' and "
        "'1e999' as infinity, which passes value >= 0, so the wait becomes max_delay (the "
        "cap) instead of the computed backoff, and an infinite retry-after-ms beats a "
        "good retry-after",
        (_USABLE, "return value if value >= 0 else None"),
    ),
    _m(
        "server-delay-sticks-for-later-waits",
        {"lab01.honours-retry-after"},
        "keeps the server's delay in a variable outside the loop ('the server told us its "
        "pace, keep to it'): once a response carried retry-after, every later wait repeats "
        "that delay, even after failures that asked for nothing, instead of replacing the "
        "backoff for that one wait",
        (_LOOP_HEAD, "    requested: float | None = None\n" + _LOOP_HEAD),
        ("            requested = server_delay(error)\n",
         "            asked = server_delay(error)\n"
         "            if asked is not None:\n"
         "                requested = asked  # the server's pace: keep to it\n"),
    ),
    _m(
        "gives-up-when-server-asks-past-cap",
        {"lab01.honours-retry-after"},
        "copies what the notebook shows the OpenAI client doing with a long retry-after "
        "('it raises at once'): a server asking for more than max_delay means we would "
        "retry too early anyway, so give up now with RetryError, instead of waiting "
        "max_delay and trying again as 'still capped' says",
        ("            if requested is None:\n",
         "            if requested is not None and requested > policy.max_delay:\n"
         "                raise RetryError(attempt, error) from error  # not back in time\n"
         "            if requested is None:\n"),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "overflow-branch-skips-jitter",
        {"lab01.capped-with-jitter"},
        "the overflow guard returns early ('past any float the answer is the cap'), keeping "
        "the docstring's 0-for-base-0 but skipping the jitter below it: with jitter on, a "
        "huge retry number gives exactly max_delay every time instead of a draw from "
        "[0, max_delay], and the rng is not drawn from",
        ('        exponential = float("inf") if policy.base_delay > 0 else 0.0\n',
         "        return policy.max_delay if policy.base_delay > 0 else 0.0\n"),
    ),
    _m(
        "int-factor-overflow-unguarded",
        {"lab01.capped-with-jitter"},
        "guards only the power ('2.0 ** 5000 is what overflows'): with the float factors of "
        "the defaults that is enough, but a policy written RetryPolicy(factor=2) or "
        "factor=3 (ints are accepted) makes factor ** retry a huge exact int, and "
        "multiplying it by a float base_delay raises OverflowError for a large retry "
        "instead of giving the cap",
        (_OVERFLOW,
         """\
    try:
        growth = policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        growth = float("inf")
    exponential = policy.base_delay * growth if policy.base_delay > 0 else 0.0
"""),
    ),
    _m(
        "jitter-fraction-drawn-once-per-call",
        {"lab01.capped-with-jitter"},
        "reads 'one draw per call' as one draw per retry_call: draws one fraction when the "
        "call starts and scales every capped backoff of that call by it, so the waits stay "
        "in [0, capped backoff] but are not rng.uniform(0, capped) per wait: they all "
        "share one fraction (a seeded rng gives other waits than backoff_delay's, and one "
        "unlucky draw near 0 makes every retry of the call immediate)",
        ("from dataclasses import dataclass\n", "from dataclasses import dataclass, replace\n"),
        (_LOOP_HEAD,
         "    # one draw per call: every wait of this call is the same share of its backoff\n"
         "    share = (rng or random).random() if policy.jitter else 1.0\n"
         "    steady = replace(policy, jitter=False)\n" + _LOOP_HEAD),
        ("sleep(backoff_delay(attempt - 1, policy, rng))",
         "sleep(share * backoff_delay(attempt - 1, steady))"),
    ),
    _m(
        "backoff-delay-memoised",
        {"lab01.capped-with-jitter"},
        "'backoff_delay is pure arithmetic on a frozen policy, cache it': functools.lru_cache "
        "also caches the jittered draw, so the same (retry, policy, rng) gives the same "
        "wait on every later call: with rng=None every call in the process waits the same "
        "'random' amounts, and a seeded rng reused across calls stops advancing; without "
        "jitter nothing changes",
        ("import email.utils\n", "import email.utils\nimport functools\n"),
        ("def backoff_delay(",
         "@functools.lru_cache(maxsize=None)  # pure: compute each wait once\n"
         "def backoff_delay("),
    ),
)
