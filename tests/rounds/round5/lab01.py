"""Round 5 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_TRANSIENT_TYPES = (
    "(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError)"
)
_STATUS_RULE = """\
    if isinstance(error, openai.APIStatusError):
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""
_CONSTANTS = "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_GIVE_UP = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_BACKOFF_WAIT = """\
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
"""
_SERVER_SLEEP = "                sleep(min(requested, policy.max_delay))\n"
_OVERFLOW = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        exponential = float("inf") if policy.base_delay > 0 else 0.0
"""
_FORMULA = "        exponential = policy.base_delay * policy.factor**retry\n"
_DRAW = "    return (rng or random).uniform(0.0, capped)"
_MILLIS_USED = """\
    if millis is not None:
        return millis / 1000.0
"""
_USABLE = 'return value if value >= 0 and value != float("inf") else None'
_DATE_DIFFERENCE = "    return max(0.0, when.timestamp() - time.time())\n"
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
        "httpx-network-errors-only",
        {"lab01.retries-transient"},
        "reads 'httpx.TransportError (timeouts, refused connections)' as 'httpx's network "
        "errors' and names httpx.NetworkError: a plain callable's httpx.ConnectError or "
        "ReadError is still retried, but its httpx.ReadTimeout / ConnectTimeout (a "
        "TimeoutException, not a NetworkError), httpx.RemoteProtocolError ('server "
        "disconnected without sending a response') and httpx.ProxyError are raised at once; "
        "the OpenAI client is unaffected since it wraps all of these in APIConnectionError",
        (_TRANSIENT_TYPES,
         "(openai.APIConnectionError, httpx.NetworkError, TimeoutError, ConnectionError)"),
    ),
    _m(
        "gives-up-once-backoff-outgrows-cap",
        # stopping before a success the limit allows is retries-transient's (README); the
        # waits that are made are base * factor ** n and capped, the RetryError carries the
        # attempts made and the last error, and a wait that would have reached the cap is
        # missing only because the loop stopped
        {"lab01.retries-transient"},
        "models the loop on Kubernetes' wait.Backoff, where the steps end as soon as the "
        "duration outgrows Cap: when the next computed backoff (before the cap) would be "
        "longer than max_delay, the schedule 'has run its course' and retry_call gives up "
        "with RetryError instead of waiting max_delay and trying again; with the default "
        "policy (waits 1, 2, 4 s, cap 30 s) nothing changes, but with more attempts or a "
        "small cap the call stops before the attempts the limit allows, and a success the "
        "next attempt would have brought is lost (server-requested waits are unaffected)",
        ("from dataclasses import dataclass\n", "from dataclasses import dataclass, replace\n"),
        (_BACKOFF_WAIT,
         """\
            if requested is None:
                # as Kubernetes' wait.Backoff: once the schedule outgrows the cap, stop
                unbounded = replace(policy, max_delay=float("inf"), jitter=False)
                if backoff_delay(attempt - 1, unbounded) > policy.max_delay:
                    raise RetryError(attempt, error) from error
                sleep(backoff_delay(attempt - 1, policy, rng))
"""),
    ),
    _m(
        "attempts-clamped-at-five",
        {"lab01.retries-transient"},
        "copies gRPC's retry policy rule that a maxAttempts above 5 is treated as 5 ('more "
        "attempts than that only hammer a server that is down'): a policy of 6 or more "
        "attempts gives up with RetryError(5, ...) after the fifth failure, so a success "
        "the sixth attempt would have brought is lost; policies of up to 5 attempts, the "
        "default 4 among them, behave right",
        (_CONSTANTS,
         _CONSTANTS
         + "#: gRPC treats a maxAttempts above 5 as 5: more only hammers a server that is down.\n"
         "MAX_ATTEMPTS_CEILING = 5\n"),
        (_LOOP_HEAD,
         "    limit = min(policy.max_attempts, MAX_ATTEMPTS_CEILING)\n"
         "    for attempt in range(1, limit + 1):\n"),
        ("            if attempt == policy.max_attempts:\n", "            if attempt == limit:\n"),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "zero-base-delay-means-default",
        {"lab01.exponential-backoff"},
        "treats a base_delay of 0 as 'not set' with the falsy-means-default habit "
        "(policy.base_delay or 1.0), reasoning that a zero wait would retry in a tight "
        "loop: RetryPolicy(base_delay=0), which asks for immediate retries, waits 1, 2, "
        "4 s (capped) instead of 0, although the docstring says a base_delay of 0 still "
        "gives 0; every positive base_delay is right",
        (_OVERFLOW,
         """\
    base = policy.base_delay or RetryPolicy.base_delay  # 0 means unset: the default 1 s
    try:
        exponential = base * policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        exponential = float("inf") if base > 0 else 0.0
"""),
    ),
    _m(
        "backoff-truncated-to-whole-seconds",
        # a jittered wait is judged against the code's own capped backoff (README), so only
        # the plain waits count against it
        {"lab01.exponential-backoff"},
        "ports the seed's Go, time.Duration(backoff) * time.Second, which truncates a float "
        "backoff to whole seconds before it becomes a duration, and keeps that int(): "
        "whole-second waits (the defaults: 1, 2, 4 s) are unchanged, but base_delay=1.5 "
        "waits 1, 3, 6 s instead of 1.5, 3, 6, base_delay=0.5 waits 0, 1, 2 s instead of "
        "0.5, 1, 2, and factor 1.5 waits 1, 1, 2 s instead of 1, 1.5, 2.25; the cap still "
        "applies",
        (_FORMULA,
         "        # whole seconds, as the seed's time.Duration(backoff) * time.Second\n"
         "        exponential = float(int(policy.base_delay * policy.factor**retry))\n"),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "rate-limit-falls-back-to-another-model",
        # one request more than the limit; the extra request's failure is reported as a
        # RetryError counting the requests made, permanent errors as they are
        {"lab01.no-sleep-after-last"},
        "'OpenAI's rate limits are per model, so when gpt-4o-mini is out of requests another "
        "model still has a budget' (the fallbacks of LiteLLM and LangChain's "
        "with_fallbacks): when retry_call gives up and its last error is a 429, "
        "RetryingLLM.complete sends one more request to a fallback model and only if that "
        "fails too raises RetryError(attempts + 1, ...); so when the final attempts are "
        "rate-limited the server sees max_attempts + 1 requests, one more than the limit "
        "(retry_call used directly, and calls whose last failure is not a 429, are right)",
        (_CONSTANTS,
         _CONSTANTS
         + "#: Rate limits are per model: this one still has a budget when the first is spent.\n"
         'FALLBACK_MODEL = "gpt-3.5-turbo"\n'),
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
        except RetryError as gave_up:
            if not isinstance(gave_up.last_error, openai.RateLimitError):
                raise
            # rate limits are per model: the fallback model has a budget of its own
            try:
                return self.client.chat.completions.create(
                    model=FALLBACK_MODEL, messages=request, **options  # type: ignore[arg-type]
                )
            except Exception as error:
                if not is_transient(error):
                    raise
                raise RetryError(gave_up.attempts + 1, error) from error
"""),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "reports-last-http-error",
        {"lab01.gives-up-with-last-error"},
        "'openai.APIConnectionError only says \"Connection error.\"; the server's last "
        "status error says what was wrong': the RetryError carries (and is chained from) "
        "the most recent HTTP status error of the call when there was one, so a call whose "
        "final attempt timed out or lost its connection after an earlier 503 or 429 reports "
        "that earlier status error instead of the last error; a call whose final failure "
        "is an HTTP error, or that saw no HTTP error at all, is reported right",
        (_LOOP_HEAD,
         "    last_status_error: openai.APIStatusError | None = None  # what the server last said\n"
         + _LOOP_HEAD),
        (_GIVE_UP,
         """\
            if isinstance(error, openai.APIStatusError):
                last_status_error = error
            if attempt == policy.max_attempts:
                # "Connection error." says nothing: report what the server last said, if it spoke
                reported = last_status_error or error
                raise RetryError(attempt, reported) from reported
"""),
    ),
    _m(
        "reports-previous-attempts-error",
        {"lab01.gives-up-with-last-error"},
        "keeps a last_error variable for the report but updates it at the end of the except "
        "block, after the wait, so the give-up branch (which comes before the wait) reads "
        "the value left by the previous failure: the RetryError carries, and is chained "
        "from, the second-to-last error, and with max_attempts=1 it is RetryError(1, None) "
        "with no cause; the attempt count is right",
        (_LOOP_HEAD, "    last_error: Exception | None = None\n" + _LOOP_HEAD),
        (_GIVE_UP,
         "            if attempt == policy.max_attempts:\n"
         "                raise RetryError(attempt, last_error) from last_error  # type: ignore[arg-type]\n"),
        (_SERVER_SLEEP, _SERVER_SLEEP + "            last_error = error  # remembered for the report\n"),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "openai-base-error-as-transient",
        {"lab01.permanent-not-retried"},
        "'whatever the openai library raises that is not an HTTP status is a transport "
        "problem': names openai.OpenAIError, the library's base class, where "
        "openai.APIConnectionError belongs, so status errors are classified right, but "
        "APIResponseValidationError, LengthFinishReasonError, "
        "ContentFilterFinishReasonError or an OpenAIError for a missing API key is retried, "
        "waited on and finally wrapped in RetryError instead of raised at once",
        (_TRANSIENT_TYPES,
         "(openai.OpenAIError, httpx.TransportError, TimeoutError, ConnectionError)"),
    ),
    _m(
        "urllib3-retry-after-statuses-transient",
        {"lab01.permanent-not-retried"},
        "adds urllib3's Retry.RETRY_AFTER_STATUS_CODES (413, 429, 503: 'the statuses a "
        "server sends Retry-After with') to the transient ones: 429 and 503 were transient "
        "already, but a 413 Payload Too Large (a prompt too long for the endpoint, which "
        "stays too long however often it is sent) is retried, waited on and finally "
        "wrapped in RetryError instead of raised at once; every other status is classified "
        "right",
        (_CONSTANTS,
         _CONSTANTS
         + "#: urllib3's Retry.RETRY_AFTER_STATUS_CODES: the server says when to come back.\n"
         "RETRY_AFTER_STATUS_CODES = frozenset({413, 429, 503})\n"),
        (_STATUS_RULE,
         """\
    if isinstance(error, openai.APIStatusError):
        if error.status_code in RETRY_AFTER_STATUS_CODES:  # urllib3 retries these too
            return True
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "zero-millis-is-no-answer",
        {"lab01.honours-retry-after"},
        "'if millis:' where 'if millis is not None:' belongs: a retry-after-ms of 0 (retry "
        "now) is taken for a missing header, so retry-after decides beside it (a "
        "'retry-after: 1' beside 'retry-after-ms: 0' waits 1 s) or, alone, the computed "
        "backoff is waited instead of 0; every positive retry-after-ms, and retry-after on "
        "its own, are read right",
        (_MILLIS_USED, "    if millis:\n        return millis / 1000.0\n"),
    ),
    _m(
        "nan-retry-after-accepted",
        {"lab01.honours-retry-after"},
        "validates a header value by rejecting the bad cases (negative, infinite) instead "
        "of accepting the good ones: float('nan') is neither below 0 nor equal to "
        "infinity, so a retry-after or retry-after-ms of 'nan' is returned as NaN, wins "
        "over the other header and is handed to sleep (min(nan, max_delay) is nan), "
        "although a value that is not a number counts as absent",
        (_USABLE, 'return None if value < 0 or value == float("inf") else value'),
    ),
    _m(
        "past-retry-after-date-ignored",
        {"lab01.honours-retry-after"},
        "'a retry-after date already past is stale, the server's estimate no longer "
        "applies': a date in the past gives None, so the computed backoff is waited, "
        "instead of 0 (retry at once) as the docstring says; dates ahead and numeric "
        "headers are read right",
        (_DATE_DIFFERENCE,
         "    delay = when.timestamp() - time.time()\n"
         "    return delay if delay >= 0 else None  # already past: stale, use our backoff\n"),
    ),
    _m(
        "server-delay-jittered",
        {"lab01.honours-retry-after"},
        "takes the AWS article's point that every wait should be jittered to keep a fleet "
        "apart and applies it to the server's delay too: with jitter on, the wait the server "
        "asked for (capped) is drawn from [0, delay] instead of waited in full, although the "
        "server's delay gets no jitter; without jitter it is right, and the backoff waits "
        "are right either way (the extra draw is the one the contract leaves open)",
        (_SERVER_SLEEP,
         "                wait = min(requested, policy.max_delay)\n"
         "                if policy.jitter:  # keep the fleet apart: the server's wait too\n"
         "                    wait = (rng or random).uniform(0.0, wait)\n"
         "                sleep(wait)\n"),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "jitter-over-whole-cap",
        {"lab01.capped-with-jitter"},
        "reads 'drawn uniformly from [0, capped backoff]' as 'from [0, the cap]': every "
        "jittered wait is rng.uniform(0, max_delay), so the waits never exceed the cap but "
        "no longer grow with the retry number (the first retry may wait up to 30 s); "
        "without jitter the waits are right",
        (_DRAW, "    return (rng or random).uniform(0.0, policy.max_delay)"),
    ),
    _m(
        "wrapper-replays-rng-per-call",
        {"lab01.capped-with-jitter"},
        "'each complete() should be reproducible on its own, whatever calls came before': "
        "RetryingLLM hands retry_call a copy of its rng on every call, so the seeded "
        "stream it was given never advances and every call draws the same jittered waits "
        "again, instead of drawing from the rng itself; retry_call and backoff_delay used "
        "directly, the first call, and rng=None are right",
        ("import email.utils\n", "import copy\nimport email.utils\n"),
        ("            rng=self.rng,\n",
         "            rng=copy.copy(self.rng),  # every call replays the seeded stream\n"),
    ),
    # -- lab01.single-retry-layer -------------------------------------------------------------
    _m(
        "closes-shared-client-on-del",
        # the contract broken is "the caller's own client is left as it was", which the
        # single-retry-layer item holds; the wrapper's own requests are right
        {"lab01.single-retry-layer"},
        "'the retries-off copy is ours, so we clean it up': RetryingLLM closes its copy "
        "when it is garbage-collected, but with_options shares the caller's httpx client "
        "with the copy, so once the wrapper is gone the caller's own client is closed too "
        "and its next request fails (APIConnectionError: the httpx client under it is "
        "closed, after the client's own retries); every request the wrapper sends while it "
        "lives is right, and the caller's max_retries is untouched",
        ("        self.rng = rng\n",
         "        self.rng = rng\n\n"
         "    def __del__(self) -> None:\n"
         "        # the retries-off copy is ours: close its connections when we go\n"
         "        self.client.close()\n"),
    ),
)
