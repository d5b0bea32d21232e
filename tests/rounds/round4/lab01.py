"""Round 4 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_STATUS_RULE = """\
    if isinstance(error, openai.APIStatusError):
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""
_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )"""
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
_BACKOFF_SLEEP = "                sleep(backoff_delay(attempt - 1, policy, rng))\n"
_OVERFLOW_TRY = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
"""
_KEEP_COPY = "        self.client = client.with_options(max_retries=0)\n"
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
_SECONDS_OR_ABSENT = """\
    seconds = _non_negative(text)
    if seconds is not None or text is None:
        return seconds
"""
_DATE_DIFFERENCE = "    return max(0.0, when.timestamp() - time.time())\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient ------------------------------------------------------------
    _m(
        "five-xx-range-excludes-599",
        {"lab01.retries-transient"},
        "writes 'any 5xx' as status_code in range(500, 599), forgetting that range's end is "
        "exclusive: 500 to 598 are retried, but a 599 (the network-connect-timeout status "
        "some proxies and CDNs send) is raised at once although it is a 5xx; every other "
        "status is classified right",
        ("error.status_code in TRANSIENT_STATUSES or error.status_code >= 500",
         "error.status_code in TRANSIENT_STATUSES or error.status_code in range(500, 599)"),
    ),
    _m(
        "max-delay-read-as-total-budget",
        {"lab01.retries-transient"},
        "reads max_delay ('no wait is ever longer than this') the way Google's "
        "ExponentialBackOff reads MaxElapsedTime and tenacity's stop_after_delay: besides "
        "capping each wait (in backoff_delay, right), the loop gives up with RetryError as "
        "soon as the next wait would bring the total waited past max_delay; with the "
        "default policy (1 + 2 + 4 s < 30 s) nothing changes, but with more attempts, a "
        "small cap or long server delays the call stops before the attempts the limit "
        "allows, and a success that the next attempt would have brought is lost",
        (_LOOP_HEAD, "    waited = 0.0  # max_delay bounds the waiting, in all\n" + _LOOP_HEAD),
        (_WAIT,
         """\
            requested = server_delay(error)
            if requested is None:
                delay = backoff_delay(attempt - 1, policy, rng)
            else:
                delay = min(requested, policy.max_delay)
            if waited + delay > policy.max_delay:  # out of waiting time: give up now
                raise RetryError(attempt, error) from error
            waited += delay
            sleep(delay)
"""),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "base-delay-dropped-from-formula",
        {"lab01.exponential-backoff"},
        "ports the seed's time.Duration(1<<i) * time.Second and generalises the 2 to the "
        "policy's factor, reading base_delay as the unit the seed already had (1 s): the "
        "wait is factor ** n seconds, so the default policy (base 1 s) gives exactly 1, 2, "
        "4, 8 s, but base_delay=1.5 gives 1, 2, 4 instead of 1.5, 3, 6, base 0.1 waits ten "
        "times too long, and base 0 no longer gives 0; the cap and the jitter over it are "
        "applied right",
        ("        exponential = policy.base_delay * policy.factor**retry\n",
         "        exponential = policy.factor**retry  # the seed's 1 << i seconds, by factor\n"),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "timeout-escalation-extra-attempt",
        {"lab01.no-sleep-after-last"},
        "'if the model keeps timing out, our timeout is the problem, not the server': when "
        "retry_call gives up and its last error is a timeout, RetryingLLM.complete sends "
        "one more request with twice the timeout, and only if that fails too raises "
        "RetryError(attempts + 1, ...) from its error; so when the final attempts time "
        "out the server sees max_attempts + 1 requests, one more than the limit (the "
        "count in the RetryError matches the requests made; retry_call used directly, "
        "and calls whose last failure is not a timeout, are unaffected)",
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        create = self.client.chat.completions.create
        try:
            return retry_call(
                lambda: create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                ),
                self.policy,
                sleep=self.sleep,
                rng=self.rng,
            )
        except RetryError as gave_up:
            if not isinstance(gave_up.last_error, openai.APITimeoutError):
                raise
            # it kept running out of time: give it one last go with twice the time
            timeout = options.get("timeout")
            longer = 2.0 * timeout if isinstance(timeout, (int, float)) else 120.0
            try:
                return create(
                    model=self.model, messages=request,  # type: ignore[arg-type]
                    **{**options, "timeout": longer},
                )
            except Exception as error:
                if not is_transient(error):
                    raise
                raise RetryError(gave_up.attempts + 1, error) from error
"""),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "chains-first-error-as-cause",
        {"lab01.gives-up-with-last-error"},
        "'last_error says how it ended, __cause__ should say how it started': the "
        "RetryError carries the last error as last_error, but is raised 'from' the first "
        "failure of the call, so its __cause__ (what the traceback shows as the direct "
        "cause) is the first error, not the last, whenever more than one attempt was made; "
        "with a single attempt the two are the same and it is right",
        (_LOOP_HEAD,
         "    first_error: Exception | None = None  # where the trouble started\n" + _LOOP_HEAD),
        (_PERMANENT_RAISED + _GIVE_UP,
         _PERMANENT_RAISED
         + "            first_error = first_error or error\n"
         + "            if attempt == policy.max_attempts:\n"
         + "                raise RetryError(attempt, error) from first_error\n"),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "duck-typed-status-retries-httpx-status-errors",
        {"lab01.permanent-not-retried"},
        "'anything that carries an HTTP response should be judged by its status', written "
        "as getattr(error.response, 'status_code') instead of isinstance(error, "
        "openai.APIStatusError): the OpenAI client's errors are classified exactly as "
        "before, but a plain callable's httpx.HTTPStatusError from raise_for_status() "
        "with a 429, 408, 409 or 5xx is retried, waited on and finally wrapped in "
        "RetryError, although only openai.APIStatusError is classified by status and "
        "everything else is permanent (its 4xx ones are still raised at once)",
        (_STATUS_RULE,
         """\
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is not None:  # anything with an HTTP response is judged by its status
        return status in TRANSIENT_STATUSES or status >= 500
"""),
    ),
    _m(
        "error-message-sniffing",
        {"lab01.permanent-not-retried"},
        "copies the habit of SDK wrappers that match messages ('some libraries raise "
        "RuntimeError(\"request timed out\") instead of TimeoutError'): an error that is "
        "not one of the transient types is still retried when its message mentions a "
        "timeout, a reset connection or 'try again', so a ValueError('timeout must be "
        "positive') or RuntimeError('temporarily unavailable, try again later') from the "
        "wrapped function is retried, waited on and wrapped in RetryError instead of "
        "raised at once; HTTP status errors are classified by status before the words "
        "are looked at, and errors whose message says none of these are raised at once",
        ("TRANSIENT_STATUSES = frozenset({408, 409, 429})\n",
         "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
         "#: What libraries that do not use TimeoutError or ConnectionError say instead.\n"
         "TRANSIENT_WORDS = (\"timed out\", \"timeout\", \"connection reset\",\n"
         "                   \"temporarily unavailable\", \"try again\")\n"),
        (_TRANSIENT_FALLBACK,
         _TRANSIENT_FALLBACK.replace("    return isinstance(", "    if isinstance(", 1)
         .replace("\n    )", "\n    ):\n        return True", 1)
         + "\n    message = str(error).lower()\n"
         "    return any(word in message for word in TRANSIENT_WORDS)"),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "retry-after-ms-floor-divided",
        {"lab01.honours-retry-after"},
        "converts milliseconds to seconds with // 1000, the integer habit from C and Go "
        "(ms / 1000 in integer arithmetic): retry-after-ms 3000 gives 3 s as it should, but "
        "750 gives 0 (an immediate retry) and 2750.25 gives 2 s instead of 2.75025; "
        "retry-after in seconds and the fallback to it are unaffected",
        ("        return millis / 1000.0\n",
         "        return millis // 1000  # milliseconds to seconds\n"),
    ),
    _m(
        "http-date-timedelta-seconds",
        {"lab01.honours-retry-after"},
        "computes the wait until a retry-after HTTP date as a timedelta and takes its "
        ".seconds (the classic timedelta trap: .seconds is the seconds field, 0 to 86399, "
        "not total_seconds()): a date a few seconds ahead gives the right whole seconds, "
        "but a date already past is timedelta(days=-1, seconds=86370), so .seconds is "
        "86370 and the wait is the cap instead of 0 (the max(0, ...) meant for past dates "
        "never sees a negative), and a date more than a day ahead loses its days; numeric "
        "headers are unaffected",
        ("import email.utils\n", "import datetime\nimport email.utils\n"),
        (_DATE_DIFFERENCE,
         """\
    if when.tzinfo is None:  # '-0000' dates come back naive: they are UTC too
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.fromtimestamp(time.time(), datetime.timezone.utc)
    return float(max(0, (when - now).seconds))  # a date in the past gives 0
"""),
    ),
    _m(
        "ratelimit-reset-header-as-server-delay",
        {"lab01.honours-retry-after"},
        "has read OpenAI's rate-limit guide: a 429 carries x-ratelimit-reset-requests and "
        "x-ratelimit-reset-tokens ('1s', '6m0s', '20ms'), the time until the limit "
        "resets, so when there is no retry-after header server_delay falls back to the "
        "longer of those instead of None; a response with retry-after-ms or retry-after "
        "is read right, but one carrying only the rate-limit headers gets their reset "
        "time (capped) instead of the computed backoff, although other headers change "
        "nothing",
        ("import email.utils\n", "import email.utils\nimport re\n"),
        (_SECONDS_OR_ABSENT,
         """\
    seconds = _non_negative(text)
    if seconds is not None:
        return seconds
    if text is None:  # no retry-after: OpenAI's rate-limit headers say when it resets
        return _reset_delay(headers)
"""),
        ("def _non_negative(text: str | None) -> float | None:\n",
         """\
_DURATION_PART = re.compile(r"(\\d+(?:\\.\\d+)?)(ms|s|m|h)")
_DURATION_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _reset_delay(headers: Mapping[str, str]) -> float | None:
    \"\"\"The longest of OpenAI's x-ratelimit-reset-* durations ('1s', '6m0s', '20ms').\"\"\"
    waits = []
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        parts = _DURATION_PART.findall(headers.get(name) or "")
        if parts:
            waits.append(sum(float(number) * _DURATION_UNIT[unit] for number, unit in parts))
    return max(waits) if waits else None


def _non_negative(text: str | None) -> float | None:
"""),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "first-retry-shortcut-skips-cap-and-jitter",
        {"lab01.capped-with-jitter"},
        "takes 'base_delay: the wait before the first retry' literally and returns "
        "base_delay for retry 0 before any arithmetic ('no need for the power'): with the "
        "defaults that is 1 s either way, but with jitter on the first wait is always "
        "base_delay instead of rng.uniform(0, capped) (and the rng is not drawn), and a "
        "policy whose base_delay is above max_delay waits longer than the cap before the "
        "first retry; later retries are right",
        (_OVERFLOW_TRY,
         "    if retry == 0:  # base_delay is the wait before the first retry\n"
         "        return policy.base_delay\n" + _OVERFLOW_TRY),
    ),
    _m(
        "logs-backoff-with-second-draw",
        {"lab01.capped-with-jitter"},
        "adds a log line 'retrying in %.2f s' whose argument calls backoff_delay again "
        "(trusting logging's lazy formatting, which defers the formatting but not the "
        "call): without jitter both calls give the same number and nothing changes, but "
        "with jitter every wait costs two draws from the rng, the wait slept is the "
        "second and the one logged the first, so a seeded rng no longer gives "
        "rng.uniform(0, capped) once per wait (retry_call and RetryingLLM; "
        "backoff_delay itself is right)",
        ("import email.utils\n", "import email.utils\nimport logging\n"),
        ("T = TypeVar(\"T\")\n", "T = TypeVar(\"T\")\nlogger = logging.getLogger(__name__)\n"),
        (_BACKOFF_SLEEP,
         "                logger.info(\"attempt %d failed (%r); retrying in %.2f s\", attempt,"
         " error,\n"
         "                            backoff_delay(attempt - 1, policy, rng))\n"
         + _BACKOFF_SLEEP),
    ),
    # -- lab01.single-retry-layer -------------------------------------------------------------
    _m(
        "respects-callers-custom-max-retries",
        {"lab01.single-retry-layer"},
        "'do not override what the caller configured on purpose': the client's retries "
        "are turned off only when it has the library's default max_retries "
        "(openai.DEFAULT_MAX_RETRIES, 2); a client built with max_retries=1, 3 or 5 is "
        "used as it is, so its own retries run under retry_call and the server sees "
        "several requests per attempt; the default client (and one already at 0) "
        "behaves right",
        (_KEEP_COPY,
         "        # a max_retries the caller chose is theirs; only the library default is ours to\n"
         "        # turn off\n"
         "        self.client = (\n"
         "            client.with_options(max_retries=0)\n"
         "            if client.max_retries == openai.DEFAULT_MAX_RETRIES\n"
         "            else client\n"
         "        )\n"),
    ),
    # -- several items: one slip in the wrapper, every backoff rule of the policy --------------
    _m(
        "wrapper-ignores-its-policy",
        # the default RetryPolicy() stands in for the caller's: its limit (more or fewer
        # attempts), its base and factor, its cap (for the backoff and the server's delay)
        # and its jitter flag are all the default's; the RetryError still counts the
        # attempts made, permanent errors and the client copy are unaffected
        {
            "lab01.retries-transient",
            "lab01.exponential-backoff",
            "lab01.no-sleep-after-last",
            "lab01.honours-retry-after",
            "lab01.capped-with-jitter",
        },
        "RetryingLLM stores the policy it is given but does not pass it on to retry_call "
        "(it passes sleep and rng by keyword, and the positional policy was dropped when "
        "the call was reformatted), so retry_call's default RetryPolicy() decides: with "
        "the default policy everything is right, but RetryingLLM(policy=RetryPolicy("
        "max_attempts=6, base_delay=1.5, max_delay=3, jitter=True)) makes 4 attempts, "
        "waits 1, 2, 4 s unjittered (the last above the 3 s cap), and caps a server's "
        "delay at 30 s instead of 3; retry_call used directly is right",
        ("            self.policy,\n            sleep=self.sleep,\n",
         "            sleep=self.sleep,\n"),
    ),
)
