"""Round 13 held-out mutants for lab01, written without reading the grader's checks."""

# Families deliberately avoided because earlier rounds (tests/mutants/lab01.py and rounds 1
# to 12) have them:
# - transient classification: forgotten or extra statuses (408/409, forcelists, 5xx range
#   ends, 501, HTTPStatus / httpx.codes enums, deny-lists, status classes), exact-type
#   lookups, partial httpx/openai transport classes, errno or OSError families, DNS,
#   EAGAIN, OpenAIError / httpx.HTTPError as transient, __cause__ / __context__ deciding,
#   body codes, x-should-retry, message sniffing, insufficient_quota, circuit breakers,
#   identity of a re-raised error, caller timeouts as deadlines, tools not resent,
#   messages generators passed through, retries numbered in headers, recursion;
# - backoff: constant, linear, from one, doubling, base dropped, pow arguments swapped,
#   urllib3's immediate first retry, truncation, chained from the last wait, less the
#   attempt's duration, per failure kind, carried across calls, throttled bases, exponent
#   clamps and overflow shortcuts, no wait after timeouts, seed guard ported one-based,
#   the server's waits skipped by the index, the notebook's 30 s cap;
# - no-sleep-after-last: sleeping before the give-up check, counting retries, uncounted
#   attempts (server-paced, refused connections, per-kind budgets, resent at once), +1 in
#   the wrapper, extra requests after giving up (timeout escalation, fallback model),
#   cool-downs (after a give-up, after a recovery, for a bare 429), one-attempt policies
#   widened, 'is' on the counter, the client's retries moved into the policy;
# - gives-up: raw error, no 'from', None, first / previous / root-cause / last-HTTP error,
#   retries counted, ExceptionGroup cause, unwrapped or re-wrapped in the wrapper,
#   UnboundLocalError, swapped arguments, timeout or server-paced give-up raised raw;
# - permanent: everything retried, wrapped, checked once or after the give-up, one blind
#   retry, resent with a fresh key or a trimmed context, waited on, 'from None', rebuilt
#   with the model's name, inner RetryError or ExceptionGroup retried, rewrapped 400s;
# - retry-after: ignored, ms ignored / as seconds / floor-divided, retry-after always
#   winning over ms, uncapped, added, floor, capped at the backoff, slept on time.sleep,
#   two-minute rule, int parse, 429 only, OpenAI errors only, negative / inf / nan / 0,
#   past dates, HTTP date parsing (IMF only, unguarded, naive now, monotonic, Date header,
#   whole seconds, timedelta.seconds, datetime overflow, mktime as local time), rounding
#   up, jittered, sticky, once per call, read from the cause / message / x-ratelimit-reset;
# - jitter and cap: no cap, cap before the exponent or the base, uncapped draw, global,
#   fresh or fixed-seed random, rng copies and replays, lru_cache on the backoff, one
#   fraction per call, extra draws (logging, planned schedules, idempotency keys), skipped
#   draws, distribution variants (added on top, equal, decorrelated, randint, rounded,
#   mirror image, whole cap, millisecond floor), drawn even without jitter;
# - single layer: client kept, max_retries=1, with_options result dropped, caller's client
#   mutated, timeout option through the original, no copy when already off, shallow copy,
#   custom max_retries respected, single-attempt and last-attempt exceptions, shared client
#   closed, a plain copy after giving up.

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_EMAIL = "import email.utils\n"
_CATCH = "        except Exception as error:\n"
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
_BACKOFF_SLEEP = "sleep(backoff_delay(attempt - 1, policy, rng))"
_RETRY_LOOP = """\
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
    raise AssertionError("unreachable: the loop returns or raises")
"""
_DRAW = "    return (rng or random).uniform(0.0, capped)\n"
_SERVER_DELAY_SIG = "def server_delay(error: BaseException) -> float | None:\n"
_MILLIS_FIRST = """\
    millis = _non_negative(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
"""
_DATE_BRANCH = """\
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # asctime and "-0000" dates: HTTP dates are always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())
"""
_DATE_DIFFERENCE = "    return max(0.0, when.timestamp() - time.time())\n"
_HELPERS_HEAD = "def _non_negative(text: str | None) -> float | None:\n"
_KEPT_CLIENT = "        self.client = client.with_options(max_retries=0)\n"
_MESSAGES_READ = "        request = list(messages)\n"
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
    # is_transient is right, but only the OpenAI client's errors ever reach it: a plain
    # callable's TimeoutError / ConnectionError and httpx's transport errors are raised at
    # once instead of retried; permanent errors were raised as they are anyway, so the
    # permanent item holds, and no RetryError is due for what is never retried
    _m(
        "retry-loop-catches-openai-errors-only",
        {"lab01.retries-transient"},
        "'retry_call is the LLM's retry layer, so it catches what the LLM client raises': "
        "the loop's handler is except openai.OpenAIError, and everything else goes "
        "straight through as a permanent error would; is_transient itself is right and "
        "every 429, 5xx, APITimeoutError and APIConnectionError is retried, but a tool "
        "wrapped in retry_call that raises TimeoutError('tool timed out'), "
        "ConnectionResetError or a raw httpx.ReadTimeout / httpx.ConnectError (a "
        "callable that is not the OpenAI client) fails on its first attempt and the "
        "success after it is never reached",
        (_CATCH,
         "        except openai.OpenAIError as error:  # what the LLM client raises\n"),
    ),
    # every attempt must send the same request, read once; a list is sent by reference,
    # so a retry sends whatever the caller's list holds by then (retries-transient, as the
    # generator and popped-timeout mutants of rounds 2 and 8 are judged); a list that is
    # left alone, and any other iterable, are sent right
    _m(
        "messages-list-aliased-not-copied",
        {"lab01.retries-transient"},
        "'copying a long conversation on every call is waste: only an iterator needs "
        "list()': complete keeps a list of messages as it is and copies other iterables, "
        "so every attempt serialises the caller's list again; when the caller's list "
        "changes while the call is still retrying (the agent appends a tool result or a "
        "user turn from another thread, or from the sleep it handed in, during a backoff "
        "wait), the retry sends a different conversation than the first attempt did and "
        "the success returned answers a request that was never made once; tuples, "
        "generators and lists nobody touches are right",
        (_MESSAGES_READ,
         "        # only an iterator needs copying: a list can be sent again as it is\n"
         "        request = messages if isinstance(messages, list) else list(messages)\n"),
    ),
    # -- lab01.exponential-backoff ----------------------------------------------------------
    # the schedule runs backwards: with max_attempts=4 the waits are 4, 2, 1 s instead of
    # 1, 2, 4 s; a two-attempt policy's single wait is right; server delays, the cap and the
    # jitter draw (over this wrong backoff, judged as round 4's base-dropped) are unchanged
    _m(
        "backoff-indexed-by-retries-left",
        {"lab01.exponential-backoff"},
        "ports the OpenAI client's _calculate_retry_timeout(remaining_retries, ...) and "
        "misreads its argument: the exponent is the number of retries still left after "
        "this failure (counting from 0), not the number already made, so the backoff "
        "shrinks as the call goes on: the default policy waits 4, 2, 1 s instead of 1, 2, "
        "4 s and max_attempts=6 waits 16, 8, 4, 2, 1 s; a policy of two attempts (one "
        "wait, base_delay) looks right",
        (_BACKOFF_SLEEP,
         "sleep(backoff_delay(policy.max_attempts - attempt - 1, policy, rng))"),
    ),
    # two rules mixed: a plain backoff wait never shorter than our previous wait. Without a
    # server delay and without jitter the waits grow anyway and nothing changes; after a
    # server-chosen wait longer than the next backoff, that backoff is raised to it
    # (exponential-backoff: "whatever waits came before, server-chosen ones included");
    # with jitter each wait is the running maximum of the draws, not the draw itself
    # (capped-with-jitter), and may exceed the capped backoff after a server wait; the
    # server's own delays are slept as asked, capped
    _m(
        "backoff-waits-never-shrink",
        {"lab01.exponential-backoff", "lab01.capped-with-jitter"},
        "'backing off means never retrying faster than last time': the computed wait is "
        "max(backoff_delay(n), the previous wait); without retry-after headers and without "
        "jitter the backoff grows anyway and every wait is right, but after a 429 whose "
        "retry-after asked for 20 s the next backoff waits 20 s instead of 4, and with "
        "jitter on a short draw after a long one is replaced by the long one, so the waits "
        "are no longer rng.uniform(0, capped) and a server's long delay leaks into the "
        "jittered waits after it",
        (_LOOP_HEAD,
         "    last_wait = 0.0  # backing off: our own waits never get shorter\n" + _LOOP_HEAD),
        (_WAIT,
         """\
            requested = server_delay(error)
            if requested is None:
                wait = max(backoff_delay(attempt - 1, policy, rng), last_wait)
            else:
                wait = min(requested, policy.max_delay)
            sleep(wait)
            last_wait = wait
"""),
    ),
    # -- lab01.no-sleep-after-last ----------------------------------------------------------
    # only when the final failure carries a usable retry-after: a wait after what should be
    # the last attempt, then one request more than the limit; the RetryError counts the
    # attempts really made (max_attempts + 1) and is chained right, so gives-up holds
    _m(
        "server-promise-buys-one-more-attempt",
        {"lab01.no-sleep-after-last"},
        "'a retry-after is a promise: the server says when it will take the request, so "
        "giving up just before that moment wastes the whole call': when the final attempt "
        "fails with a transient error that carries retry-after-ms or retry-after, "
        "retry_call grants itself one extra attempt after the server's delay (once per "
        "call); a final failure without those headers gives up at the limit as it should, "
        "but a 429 with retry-after: 2 on the last attempt is waited on and the server sees "
        "max_attempts + 1 requests",
        (_RETRY_LOOP,
         """\
    limit = policy.max_attempts
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            requested = server_delay(error)
            if attempt >= limit:
                if requested is None or limit > policy.max_attempts:
                    raise RetryError(attempt, error) from error
                # the server said when it will take the request: one more try, then
                limit += 1
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""),
    ),
    # -- lab01.gives-up-with-last-error -----------------------------------------------------
    # the very RetryError retry_call raised, with its attempts and last_error, but
    # re-raised 'from None', which overwrites its __cause__ with None; only through
    # RetryingLLM (retry_call used directly is right), and permanent errors are untouched
    _m(
        "wrapper-drops-retry-error-chain",
        {"lab01.gives-up-with-last-error"},
        "'the agent logs str(error), which already names the last error: the chain of the "
        "client's and httpx's exceptions under it is only noise in its traceback': "
        "RetryingLLM.complete catches the RetryError and re-raises that same object with "
        "'raise error from None', not knowing that this sets its __cause__ to None (and "
        "suppresses its context); attempts and last_error are intact, but the RetryError a "
        "RetryingLLM gives up with is no longer chained to the last error",
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
        except RetryError as error:
            # str(error) names the last error already: keep the traceback short
            raise error from None
"""),
    ),
    # -- lab01.permanent-not-retried --------------------------------------------------------
    # raised at once after one request, never waited on, the same object; but when a
    # transient failure came before it in the same call, its __cause__ is overwritten with
    # that failure ("not another ... __cause__"); a permanent first failure is untouched
    _m(
        "permanent-chained-to-earlier-transient",
        {"lab01.permanent-not-retried"},
        "'when a 401 comes right after a 503, the traceback should show both, or nobody "
        "will understand the 503 in the logs': a permanent error that follows a transient "
        "failure in the same call is raised with 'raise error from earlier', so it is the "
        "very object fn raised, sent once and not waited on, but its __cause__ is now the "
        "earlier 503 (or timeout) instead of what it was (None for the OpenAI client's "
        "errors, the KeyError a ValueError was raised from); a permanent error on the "
        "first attempt is raised untouched",
        (_LOOP_HEAD,
         "    earlier: BaseException | None = None  # the transient failure before, if any\n"
         + _LOOP_HEAD),
        (_PERMANENT_RAISED,
         """\
            if not is_transient(error):
                if earlier is not None:
                    raise error from earlier  # the traceback tells the whole story
                raise
"""),
        (_GIVE_UP, _GIVE_UP + "            earlier = error\n"),
    ),
    # -- lab01.honours-retry-after ----------------------------------------------------------
    # numeric headers are untouched; an HTTP date is measured against the clock bound at
    # import, which freezegun cannot replace (it patches module attributes, not default
    # arguments): under a frozen clock the date's wait is off by the real time's distance
    # to the frozen one, 0 or the cap; without a frozen clock it is right
    _m(
        "server-delay-clock-bound-as-default",
        {"lab01.honours-retry-after"},
        "makes the clock injectable the way tutorials show, def server_delay(error, *, "
        "now=time.time), and calls now() for the HTTP-date branch: the default is bound "
        "once, when the module is imported, to the real time.time, so freeze_time and the "
        "kit's FrozenClock (which replace time.time where modules refer to it) never reach "
        "it; a retry-after date 8 s after the frozen time is measured against the real "
        "wall clock, so the wait is 0 when the frozen date lies in the past of the real "
        "one and the cap when it lies ahead; retry-after seconds and retry-after-ms are "
        "right, and so is every date on a real clock",
        (_SERVER_DELAY_SIG,
         "def server_delay(\n"
         "    error: BaseException, *, now: Callable[[], float] = time.time\n"
         ") -> float | None:\n"),
        (_DATE_DIFFERENCE, "    return max(0.0, when.timestamp() - now())\n"),
    ),
    # not the base mutant's "retry-after always wins": retry-after-ms still wins whenever
    # it is the shorter or the only one (OpenAI's usual pair, retry-after rounded up);
    # only a numeric retry-after shorter than retry-after-ms takes over
    _m(
        "shorter-of-the-two-headers",
        {"lab01.honours-retry-after"},
        "'retry-after is whole seconds, rounded; retry-after-ms is exact, and rounding only "
        "ever adds, so when both are there the smaller one is the precise one': "
        "server_delay returns min(retry-after-ms / 1000, retry-after) when both are "
        "numbers; with OpenAI's pairs (retry-after: 7, retry-after-ms: 6500) that is the "
        "milliseconds, as it should be, but a response with retry-after-ms: 2500 and "
        "retry-after: 1 waits 1 s instead of the 2.5 s the winning header asked for; a "
        "lone header, an unusable ms and a date are read right",
        (_MILLIS_FIRST,
         """\
    millis = _non_negative(headers.get("retry-after-ms"))
    if millis is not None:
        # retry-after is rounded to whole seconds and rounding only adds: the smaller of
        # the two is the precise one
        seconds = _non_negative(headers.get("retry-after"))
        return millis / 1000.0 if seconds is None else min(millis / 1000.0, seconds)
"""),
    ),
    # the seconds until a date are cached by the header's text: the first time a date is
    # seen its wait is right, but the same date seen again later (a second 503 asking for
    # the same moment, or another call in the same process) gets the wait computed back
    # then, not the time left now; numeric headers are untouched
    _m(
        "http-date-delay-cached-by-text",
        {"lab01.honours-retry-after"},
        "'parsing an HTTP date is slow and a server repeats the same retry-after until the "
        "moment comes': the date branch moves into a helper decorated with "
        "functools.lru_cache, keyed by the header's text, which returns the seconds from "
        "now until the date; the first response with 'retry-after: <09:00:10 GMT>' at "
        "09:00:00 waits 10 s, but a second 503 at 09:00:10 carrying the same date (now "
        "due: 0 s) waits 10 s again, and so does every later call that meets that text; "
        "numeric retry-after and retry-after-ms, and dates seen once, are right",
        (_IMPORT_EMAIL, "import email.utils\nimport functools\n"),
        (_DATE_BRANCH, "    return _seconds_until(text)\n"),
        (_HELPERS_HEAD,
         '''\
@functools.lru_cache(maxsize=128)
def _seconds_until(text: str) -> float | None:
    """Seconds from now until the HTTP date ``text`` (parsed once per header value)."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # asctime and "-0000" dates: HTTP dates are always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())


''' + _HELPERS_HEAD),
    ),
    # -- lab01.capped-with-jitter -----------------------------------------------------------
    # without jitter nothing changes; with it one draw per wait from the given rng (so the
    # seed still reproduces), but from [0.5, 1.5] x the capped backoff: outside [0, capped]
    # and, near the cap, above max_delay
    _m(
        "randomization-factor-jitter",
        {"lab01.capped-with-jitter"},
        "ports the jitter of Google's ExponentialBackOff (google-http-client, the gax "
        "libraries): randomization_factor 0.5, so each wait is drawn from [0.5, 1.5] times "
        "the capped backoff; one draw per wait from the given rng, so the same seed gives "
        "the same waits, but they are not full jitter: never below half the backoff, up "
        "to half again above it, and once the backoff reaches the cap a wait of up to "
        "1.5 x max_delay (45 s for the default 30)",
        (_DRAW,
         "    # randomization factor 0.5, as Google's ExponentialBackOff draws its waits\n"
         "    return (rng or random).uniform(0.5 * capped, 1.5 * capped)\n"),
    ),
    # no wait ever exceeds max_delay and the seed reproduces the waits, but below the cap
    # they are drawn from [0, 2 x capped backoff], not [0, capped backoff]; at the cap
    # (min(max_delay, 2 x max_delay)) the draw is exactly the solution's
    _m(
        "mean-preserving-jitter",
        {"lab01.capped-with-jitter"},
        "has read that full jitter halves the average wait and wants the average to stay "
        "base * factor ** n, as the docstring's formula says: each jittered wait is drawn "
        "from [0, min(max_delay, 2 x capped backoff)]; no wait exceeds the cap, one draw "
        "per wait from the given rng reproduces with a seed, and once the backoff has "
        "reached the cap the waits are exactly uniform(0, max_delay), but before that a "
        "wait can be up to twice its capped backoff (the first retry of the defaults "
        "waits up to 2 s instead of 1) and every draw is 2 x rng.uniform(0, capped)",
        (_DRAW,
         "    # full jitter halves the mean: draw from twice the backoff (within the cap), so\n"
         "    # that on average the wait is still base * factor ** n\n"
         "    return (rng or random).uniform(0.0, min(policy.max_delay, 2 * capped))\n"),
    ),
    # every wait made is right and drawn from the rng when made, but a draw is also made
    # for the failure that is raised as permanent and for the final failure, waits that
    # never come: an rng shared across calls is pushed past the draws the next call should
    # wait; server-paced failures may draw ("up to you"); without jitter nothing is drawn
    _m(
        "backoff-drawn-before-the-checks",
        {"lab01.capped-with-jitter"},
        "'work out what this failure costs as soon as it happens, then decide': retry_call "
        "computes backoff_delay(n, policy, rng) first thing in its handler and only then "
        "asks whether the error is permanent or the attempts are spent; every wait is the "
        "right one and no wait follows a permanent error or the last attempt, but with "
        "jitter on the rng is drawn from for those failures too, so a RetryingLLM whose "
        "seeded rng served a call that gave up (or hit a 401 after a 503) waits other "
        "draws on its next call than the stream's next uniform(0, capped)",
        (_PERMANENT_RAISED,
         "            planned = backoff_delay(attempt - 1, policy, rng)  # what it costs us\n"
         + _PERMANENT_RAISED),
        (_BACKOFF_SLEEP, "sleep(planned)"),
    ),
    # -- lab01.single-retry-layer -----------------------------------------------------------
    # the 401 itself is raised as it is after one request (permanent holds); from then on
    # every call goes through a copy of the caller's client that keeps its max_retries=2,
    # so each attempt may reach the server three times; calls before any 401 are right
    _m(
        "auth-error-refresh-restores-sdk-retries",
        {"lab01.single-retry-layer"},
        "'callers rotate keys on their client (client.api_key = new_key), and our copy "
        "still holds the old one': when a call ends in openai.AuthenticationError, "
        "RetryingLLM re-raises it as it is but first refreshes its copy with "
        "self._given.with_options(api_key=self._given.api_key), forgetting that a copy "
        "made without max_retries=0 keeps the caller's max_retries=2; every call up to the "
        "first 401 sends one request per attempt, but after it a call whose attempts fail "
        "reaches the server up to three times per attempt, the client's own waits in "
        "between",
        (_KEPT_CLIENT, "        self._given = client\n" + _KEPT_CLIENT),
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
        except openai.AuthenticationError:
            # the caller may have rotated its key since: take its client's current settings
            self.client = self._given.with_options(api_key=self._given.api_key)
            raise
"""),
    ),
)
