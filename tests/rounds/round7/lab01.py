"""Round 7 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_EMAIL = "import email.utils\n"
_CONSTANTS = "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
_STATUS_RULE = """\
    if isinstance(error, openai.APIStatusError):
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_CALL = "            return fn()\n"
_PERMANENT_RAISED = """\
            if not is_transient(error):
                raise
"""
_GIVE_UP = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_BACKOFF_WAIT = """\
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
"""
_OVERFLOW = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        exponential = float("inf") if policy.base_delay > 0 else 0.0
"""
_CAP = "    capped = min(policy.max_delay, exponential)\n"
_NO_JITTER = "    if not policy.jitter:\n        return capped\n"
_DRAW = "    return (rng or random).uniform(0.0, capped)"
_SERVER_DELAY_HEAD = '''\
def server_delay(error: BaseException) -> float | None:
    """The delay the server asked for in the failed response's headers, in seconds."""
'''
_DATE_DIFFERENCE = "    return max(0.0, when.timestamp() - time.time())\n"
_HELPERS_HEAD = "def _non_negative(text: str | None) -> float | None:\n"
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
        "empty-result-asked-again",
        # no error is involved and no wait is made: what breaks is the loop's stop on a
        # success ("call fn() until it succeeds ... return its result"), the loop rule of
        # retries-transient; attempts never exceed the limit
        {"lab01.retries-transient"},
        "'an empty answer is no answer yet', the habit of polling loops (while not "
        "result): a falsy result of fn (None, 0, '', [], {}) is taken for a glitch and fn "
        "is called again at once, up to max_attempts times, and only the last attempt's "
        "result is returned; so a function that succeeds with 0, an empty list or None is "
        "called max_attempts times (its side effects repeated) instead of once, and a "
        "later truthy result replaces the success it already gave; a truthy result, every "
        "ChatCompletion of RetryingLLM, and every failure are handled right",
        (_CALL,
         "            result = fn()\n"
         "            if result or attempt == policy.max_attempts:\n"
         "                return result\n"
         "            continue  # an empty answer is no answer yet: ask again\n"),
    ),
    _m(
        "error-body-logged-as-json",
        # the exception escapes while a transient failure is being retried (after the
        # give-up check, before the wait): the retry that should follow never happens;
        # giving up, permanent errors and the waits themselves are untouched
        {"lab01.retries-transient"},
        "logs every retried HTTP failure with the server's own message, read as "
        "error.response.json()['error']['message'] (the OpenAI error body's shape): with "
        "the OpenAI endpoint's JSON bodies every retry is logged and made, but a 502 or "
        "503 from a proxy or load balancer with an HTML or empty body, or an "
        "APIStatusError built around a bare httpx.Response, makes the log line raise "
        "JSONDecodeError (a JSON body without error.message, KeyError) out of retry_call, "
        "so that transient failure is not retried and the success after it is lost; "
        "transport errors, a final failure and permanent errors are unaffected",
        (_IMPORT_EMAIL, _IMPORT_EMAIL + "import logging\n"),
        (_CONSTANTS, _CONSTANTS + "\n_log = logging.getLogger(__name__)\n"),
        (_GIVE_UP,
         _GIVE_UP
         + "            if isinstance(error, openai.APIStatusError):  # what the server said\n"
         "                _log.info(\n"
         "                    \"attempt %d failed with %d: %s\", attempt, error.status_code,\n"
         "                    error.response.json()[\"error\"][\"message\"],\n"
         "                )\n"),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "log-threshold-overflow-guard",
        # the wait that fails is the computed backoff itself: with factor 1 backoff_delay
        # raises for every retry number, small or huge, so it is the formula's rule (base *
        # 1 ** n), not the overflow guard's; the cap, jitter and server delays are right
        # wherever a backoff can be computed, and every factor above 1 gives the same waits
        {"lab01.exponential-backoff"},
        "avoids 2.0 ** 5000 by computing where the backoff reaches the cap, retry >= "
        "log(max_delay / base_delay, factor), and returning the cap from there without the "
        "power; exact for every factor above 1 (and for base_delay or max_delay 0, handled "
        "apart), but factor=1, constant backoff, which the policy allows, makes math.log "
        "divide by log(1) = 0: backoff_delay raises ZeroDivisionError for every retry "
        "number, so a constant-backoff policy never waits base_delay and retry_call fails "
        "with ZeroDivisionError at the first transient failure instead",
        (_IMPORT_EMAIL, _IMPORT_EMAIL + "import math\n"),
        (_OVERFLOW,
         """\
    # from the retry at which base * factor ** retry reaches the cap, the cap decides: the
    # power is not computed there, so it cannot overflow
    if policy.base_delay == 0 or policy.max_delay == 0:
        exponential = 0.0  # nothing grows from 0, and a cap of 0 caps everything
    elif retry >= math.log(policy.max_delay / policy.base_delay, policy.factor):
        exponential = float("inf")
    else:
        try:
            exponential = policy.base_delay * policy.factor**retry
        except OverflowError:  # a cap so large that the power passes any float first
            exponential = float("inf")
"""),
    ),
    _m(
        "backoff-carries-over-after-give-up",
        # each call's waits must be backoff_delay(n) with n from 0 (this item's formula);
        # the cap still applies, a jittered wait is drawn from this code's own capped
        # backoff, server delays are untouched, and each call keeps its own attempt limit
        {"lab01.exponential-backoff"},
        "'a server that just made us give up is still struggling': RetryingLLM counts the "
        "failed attempts since its last success, across calls, and a call that follows a "
        "give-up starts its backoff where the last one ended (base_delay * factor ** k, k "
        "the attempts that failed before), so after a RetryError of 4 attempts the next "
        "call waits 16, 30, 30 s instead of 1, 2, 4 s; a wrapper's first call, any call "
        "after a success, and retry_call used directly back off right",
        ("from dataclasses import dataclass\n", "from dataclasses import dataclass, replace\n"),
        (_KEPT_RNG,
         _KEPT_RNG + "        self._failed_in_a_row = 0  # failed attempts since the last success\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        policy = self.policy
        if self._failed_in_a_row:  # the server was failing a moment ago: back off from there
            policy = replace(
                policy, base_delay=policy.base_delay * policy.factor**self._failed_in_a_row
            )
        try:
            response = retry_call(
                lambda: self.client.chat.completions.create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                ),
                policy,
                sleep=self.sleep,
                rng=self.rng,
            )
        except RetryError as gave_up:
            self._failed_in_a_row += gave_up.attempts
            raise
        self._failed_in_a_row = 0
        return response
"""),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "refused-connection-costs-no-attempt",
        # the RetryError carries the attempts really made and the last error, and n counts
        # every failed attempt: only the limit is exceeded (and a wait follows what should
        # have been the last attempt)
        {"lab01.no-sleep-after-last"},
        "copies gRPC's transparent retry (and urllib3's view that a connect error is safe "
        "to resend): a refused connection never reached the server, so the first one in a "
        "call does not use up an attempt; with a ConnectionRefusedError or httpx.ConnectError "
        "(the OpenAI client's APIConnectionError caused by one) among the failures, the "
        "call makes max_attempts + 1 attempts, waiting after what should have been the "
        "last one, and returns a success the limit did not allow; calls without a refused "
        "connection (HTTP errors, timeouts, dropped connections) stop at the limit",
        (_LOOP_HEAD,
         "    limit = policy.max_attempts\n"
         "    for attempt in range(1, policy.max_attempts + 2):\n"),
        (_GIVE_UP,
         "            if limit == policy.max_attempts and _never_sent(error):\n"
         "                limit += 1  # a request that never left costs no attempt (once)\n"
         "            if attempt == limit:\n"
         "                raise RetryError(attempt, error) from error\n"),
        (_HELPERS_HEAD,
         """\
def _never_sent(error: BaseException) -> bool:
    \"\"\"A refused connection: the request never reached the server.\"\"\"
    refused = (ConnectionRefusedError, httpx.ConnectError)
    return isinstance(error, refused) or isinstance(error.__cause__, refused)


""" + _HELPERS_HEAD),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "wrapper-rewraps-with-model-name",
        {"lab01.gives-up-with-last-error"},
        "'the agent uses several models, the error should say which one gave up': "
        "RetryingLLM catches the RetryError and raises a subclass carrying the model, with "
        "the same attempts and last_error, but 'from error' in that except block names the "
        "RetryError it caught, so the __cause__ of what the caller gets is the inner "
        "RetryError instead of the last underlying error; retry_call used directly, "
        "successes and permanent errors are right, and the error is still a RetryError",
        ("class RetryingLLM:\n",
         '''\
class LLMRetryError(RetryError):
    """A RetryError that also names the model the requests were for."""

    def __init__(self, attempts: int, last_error: BaseException, model: str) -> None:
        super().__init__(attempts, last_error)
        self.model = model


class RetryingLLM:
'''),
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
        except RetryError as error:  # say which model gave up
            raise LLMRetryError(error.attempts, error.last_error, self.model) from error
"""),
    ),
    _m(
        "single-attempt-branch-forgets-from",
        {"lab01.gives-up-with-last-error"},
        "writes max_attempts=1 apart ('one attempt: no loop, no waits'), classifying the "
        "error and giving up as the loop does, but the branch's raise RetryError(1, error) "
        "lacks 'from error': the error is only its __context__ and __cause__ is None; "
        "with two or more attempts the loop raises it from the last error as it should, "
        "and permanent errors are raised as they are either way",
        (_LOOP_HEAD,
         """\
    if policy.max_attempts == 1:  # a single attempt: no loop, no waits
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            raise RetryError(1, error)
""" + _LOOP_HEAD),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "transient-body-code-retried",
        {"lab01.permanent-not-retried"},
        "'gateways in front of OpenAI-compatible servers sometimes answer a rate limit or "
        "an overload with a 400 whose body still says rate_limit_exceeded: believe the "
        "body': an HTTP error whose body code is rate_limit_exceeded, server_error or "
        "overloaded is transient whatever its status, so a 400, 403, 404 or 422 with such "
        "a code is retried, waited on and finally wrapped in RetryError instead of raised "
        "at once, although the status code alone decides; permanent statuses with any "
        "other code (or none) are raised at once, and transient statuses are retried "
        "whatever their code",
        (_CONSTANTS,
         _CONSTANTS
         + "#: Body codes that say a failure is temporary, whatever its status.\n"
         "TRANSIENT_CODES = frozenset({\"rate_limit_exceeded\", \"server_error\", \"overloaded\"})\n"),
        (_STATUS_RULE,
         """\
    if isinstance(error, openai.APIStatusError):
        code = getattr(error, "code", None)
        if isinstance(code, str) and code in TRANSIENT_CODES:
            return True  # the body says it is temporary: believe it
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""),
    ),
    _m(
        "permanent-reraised-from-none",
        {"lab01.permanent-not-retried"},
        "'the caller should not see our retry loop in the traceback': a permanent error "
        "is raised with 'raise error from None' instead of a bare raise, which sets its "
        "__cause__ to None and __suppress_context__ to True: the same object comes out at "
        "once, after one call, but a permanent error that was itself raised from another "
        "(a tool's ValueError raised from the KeyError behind it) loses its cause, and its "
        "implicit context is hidden; the OpenAI client's status errors (raised 'from None' "
        "already) and errors without a cause or context are unchanged",
        (_PERMANENT_RAISED,
         "            if not is_transient(error):\n"
         "                raise error from None  # as it is, without our loop in its traceback\n"),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "http-date-against-date-header",
        {"lab01.honours-retry-after"},
        "'a retry-after date is on the server's clock, so measure it against the server's "
        "own Date header and clock skew cancels out': when the failed response carries a "
        "date header, the wait until a retry-after HTTP date is counted from that date "
        "instead of time.time(), although the docstring says time.time() and that other "
        "headers change nothing; a response whose Date is a minute behind the client's "
        "clock waits a minute too long (up to the cap), one ahead waits too little or 0; "
        "without a date header, and for numeric retry-after and retry-after-ms, it is right",
        (_DATE_DIFFERENCE,
         """\
    now = time.time()
    served = headers.get("date")  # the server's clock: read its retry-after date against it
    if served:
        try:
            now = email.utils.parsedate_to_datetime(served).timestamp()
        except (TypeError, ValueError):
            pass
    return max(0.0, when.timestamp() - now)
"""),
    ),
    _m(
        "try-again-in-message-parsed",
        {"lab01.honours-retry-after"},
        "has seen OpenAI's 429 messages end 'Please try again in 6.5s.' or 'in 20ms.': "
        "when neither retry-after-ms nor retry-after gives a delay, server_delay reads "
        "'try again in <n>s|ms' from the error's message instead of answering None, so a "
        "failure without usable headers whose message says so waits that (capped) instead "
        "of the computed backoff; responses with a usable header are read right, and "
        "messages without the phrase give None",
        (_IMPORT_EMAIL, _IMPORT_EMAIL + "import re\n"),
        (_SERVER_DELAY_HEAD,
         '''\
#: OpenAI's rate-limit messages end "Please try again in 6.5s." (or "in 20ms.").
_TRY_AGAIN = re.compile(r"try again in (\\d+(?:\\.\\d+)?)(ms|s)\\b", re.IGNORECASE)


def server_delay(error: BaseException) -> float | None:
    """The delay the server asked for: its headers, or else its message's 'try again in'."""
    delay = _header_delay(error)
    if delay is not None:
        return delay
    found = _TRY_AGAIN.search(str(error))
    if found is None:
        return None
    number, unit = found.groups()
    return float(number) / 1000.0 if unit == "ms" else float(number)


def _header_delay(error: BaseException) -> float | None:
    """The delay the server asked for in the failed response's headers, in seconds."""
'''),
    ),
    _m(
        "server-delay-past-cap-falls-back-to-backoff",
        {"lab01.honours-retry-after"},
        "'a server asking for longer than we are ever willing to wait cannot be honoured, "
        "so keep to our own schedule': a server delay above max_delay is dropped and the "
        "computed backoff waited instead of the delay capped at max_delay, so a "
        "retry-after of 45 s under the default 30 s cap waits 1, 2 or 4 s (the backoff) "
        "instead of 30 s; a delay up to the cap, and failures without one, wait right",
        (_BACKOFF_WAIT,
         "            if requested is None or requested > policy.max_delay:  # ours, past the cap\n"
         "                sleep(backoff_delay(attempt - 1, policy, rng))\n"),
    ),
    _m(
        "http-date-against-monotonic",
        {"lab01.honours-retry-after"},
        "has learnt that durations are measured on time.monotonic(), never on the wall "
        "clock, and applies it to the wait until a retry-after HTTP date: "
        "when.timestamp() - time.monotonic() subtracts a clock with an arbitrary origin "
        "(seconds since boot) from a Unix timestamp, so a date a few seconds ahead, and a "
        "date in the past too, give decades, and the wait is the cap instead of the "
        "seconds until the date (or 0); numeric retry-after and retry-after-ms are right",
        (_DATE_DIFFERENCE,
         "    return max(0.0, when.timestamp() - time.monotonic())  # durations: monotonic\n"),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "openai-style-jitter-formula",
        {"lab01.capped-with-jitter"},
        "ports the OpenAI client's jitter, sleep * (1 - 0.25 * random()), with the fraction "
        "raised to 1 for full jitter: capped * (1 - rng.random()); the waits are uniform "
        "over (0, capped backoff], one draw each, and a seed reproduces them, but each is "
        "capped - rng.uniform(0, capped), the mirror image of the draw the docstring asks "
        "for (a draw of 0.1 of the way gives 90% of the backoff); without jitter nothing "
        "changes",
        (_DRAW,
         "    return capped * (1.0 - (rng or random).random())  # the client's form, full jitter"),
    ),
    _m(
        "clamp-floor-after-cap",
        # a wait above the cap is capped-with-jitter's (README); below the cap every wait
        # is base * factor ** n as before
        {"lab01.capped-with-jitter"},
        "clamps the backoff into [base_delay, max_delay] with the usual "
        "max(lo, min(hi, x)) ('never shorter than the first wait, never longer than the "
        "cap'), which gives lo when lo > hi: a policy whose base_delay is above its "
        "max_delay (base 5 s, cap 2 s) waits base_delay every time, above the cap, and "
        "with jitter draws from [0, base_delay]; whenever base_delay <= max_delay the "
        "floor never bites and every wait is right",
        (_CAP,
         "    capped = max(policy.base_delay, min(policy.max_delay, exponential))  # in [base, cap]\n"),
    ),
    _m(
        "wrapper-own-random-when-no-rng",
        {"lab01.capped-with-jitter"},
        "'each wrapper should have a generator of its own, not share the global one': "
        "RetryingLLM keeps rng or random.Random(), seeded from the OS, when no rng is "
        "given, so its jittered waits no longer come from the random module and "
        "random.seed(...) does not reproduce them; a given rng is used as it is, and "
        "retry_call and backoff_delay used directly fall back to the random module right",
        (_KEPT_RNG,
         "        self.rng = rng or random.Random()  # a generator of its own, not the global one\n"),
    ),
    _m(
        "zero-backoff-skips-draw",
        {"lab01.capped-with-jitter"},
        "'a capped backoff of 0 has nothing to spread': returns 0 before the draw when the "
        "capped backoff is 0 (base_delay=0 or max_delay=0), since uniform(0, 0) is 0 "
        "anyway; every wait is still right, but with jitter on such a wait makes no draw "
        "where the docstring asks for exactly one, so a seeded rng shared with later "
        "calls (or other policies) is left behind and their jittered waits differ from "
        "the seed's sequence; every positive backoff draws once",
        (_NO_JITTER,
         "    if not policy.jitter or capped == 0:  # nothing to spread: no draw needed\n"
         "        return capped\n"),
    ),
)
