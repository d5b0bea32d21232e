"""Round 1 held-out mutants for lab01, written without reading the grader's checks."""

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
_GIVE_UP_THEN_WAIT = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            requested = server_delay(error)
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
            else:
                sleep(min(requested, policy.max_delay))
"""
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
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_SERVER_SLEEP = "sleep(min(requested, policy.max_delay))"
_CAP_AND_JITTER = """\
    capped = min(policy.max_delay, exponential)
    if not policy.jitter:
        return capped
    return (rng or random).uniform(0.0, capped)"""
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
        "five-xx-forcelist-only",
        {"lab01.retries-transient"},
        "copies the familiar urllib3/requests status_forcelist [500, 502, 503, 504] for 'the "
        "5xx': a 501, 505, 507 or a proxy's 520-529 is raised at once although the contract "
        "says any 5xx is transient",
        ("error.status_code in TRANSIENT_STATUSES or error.status_code >= 500",
         "error.status_code in TRANSIENT_STATUSES or error.status_code in (500, 502, 503, 504)"),
    ),
    _m(
        "openai-connect-error-not-transient",
        {"lab01.retries-transient"},
        "'timeouts are openai.APITimeoutError, dropped connections are ConnectionError': names "
        "the timeout subclass instead of its parent, so the OpenAI client's APIConnectionError "
        "for a refused or dropped connection (not a builtin ConnectionError) is not retried; "
        "timeouts and plain callables still work",
        (_TRANSIENT_TYPES,
         "(openai.APITimeoutError, httpx.TransportError, TimeoutError, ConnectionError)"),
    ),
    _m(
        "httpx-timeouts-only",
        {"lab01.retries-transient"},
        "reads 'httpx.TransportError (timeouts, ...)' and picks httpx.TimeoutException: a plain "
        "callable's httpx.ConnectError, ReadError or RemoteProtocolError (a refused or dropped "
        "connection) is raised at once; the OpenAI client is unaffected because it wraps "
        "these in APIConnectionError",
        (_TRANSIENT_TYPES,
         "(openai.APIConnectionError, httpx.TimeoutException, TimeoutError, ConnectionError)"),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "backoff-index-skips-server-waits",
        # declared with lab01.exponential-backoff too; judged honours-retry-after alone: the
        # waits follow base * factor ** n wherever the server asks for nothing, and it is
        # the server's delay that shifts the later ones (README, "One mistake, one item")
        {"lab01.honours-retry-after"},
        "keeps a separate counter of backoff waits and advances it only when the computed "
        "backoff is used, so after a server-requested wait the schedule restarts where it "
        "was: 429 (retry-after) then 503 waits base*factor**0 for the 503 instead of "
        "base*factor**1: the waits are no longer base*factor**n, and the server's delay shifts the "
        "later waits instead of replacing the backoff for that one wait",
        (_LOOP_HEAD, "    backoffs = 0\n" + _LOOP_HEAD),
        ("                sleep(backoff_delay(attempt - 1, policy, rng))\n",
         "                sleep(backoff_delay(backoffs, policy, rng))\n"
         "                backoffs += 1\n"),
    ),
    _m(
        "exponent-clamped-at-default-cap",
        {"lab01.exponential-backoff"},
        "guards against 2.0 ** 5000 by clamping the exponent at 5, reasoning from the defaults "
        "(1 * 2**5 = 32 > 30, the cap is reached by then): right for the default policy, but "
        "with a small base, a small factor or a large cap the waits stop growing at "
        "base*factor**5, below the cap",
        ("exponential = policy.base_delay * policy.factor**retry",
         "exponential = policy.base_delay * policy.factor ** min(retry, 5)"),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "waits-server-delay-after-last-attempt",
        {"lab01.no-sleep-after-last"},
        "'honour what the server asked first, then decide': the server-requested wait is slept "
        "before the give-up check, so when the final failure carries retry-after the caller "
        "waits for it and then gets the RetryError; plain backoff is still skipped correctly",
        (_GIVE_UP_THEN_WAIT,
         """\
            requested = server_delay(error)
            if requested is not None:
                sleep(min(requested, policy.max_delay))
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            if requested is None:
                sleep(backoff_delay(attempt - 1, policy, rng))
"""),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "single-attempt-shortcut-raises-raw",
        {"lab01.gives-up-with-last-error"},
        "'with max_attempts=1 there is nothing to retry, just call it': the shortcut skips the "
        "loop, so a transient failure of the only attempt comes out raw instead of "
        "RetryError(1, error)",
        (_LOOP_HEAD,
         "    if policy.max_attempts == 1:\n"
         "        return fn()  # nothing to retry\n" + _LOOP_HEAD),
    ),
    _m(
        "wrapper-unwraps-retry-error",
        {"lab01.gives-up-with-last-error"},
        "'code using the LLM already handles openai.RateLimitError', so RetryingLLM.complete "
        "unwraps the RetryError and raises its last_error: retry_call is right, but the "
        "wrapper does not raise what retry_call raises",
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
            raise error.last_error from error
"""),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "os-error-counted-as-network-error",
        {"lab01.permanent-not-retried"},
        "'TimeoutError and ConnectionError are both OSError, so OSError covers them': a "
        "FileNotFoundError, PermissionError or IsADirectoryError from the wrapped function is "
        "retried and finally wrapped in RetryError, though only those two are transient",
        (_TRANSIENT_TYPES, "(openai.APIConnectionError, httpx.TransportError, OSError)"),
    ),
    _m(
        "permanent-check-on-first-attempt-only",
        {"lab01.permanent-not-retried"},
        "writes the first attempt apart (classify, raise permanent errors) and then a retry "
        "loop that catches everything: once a transient failure happened, a later 401/404 or "
        "ValueError is retried, waited on and finally wrapped in RetryError",
        (_RETRY_LOOP,
         """\
    try:
        return fn()
    except Exception as error:
        if not is_transient(error):
            raise
        last_error = error
    for attempt in range(2, policy.max_attempts + 1):
        requested = server_delay(last_error)
        if requested is None:
            sleep(backoff_delay(attempt - 2, policy, rng))
        else:
            sleep(min(requested, policy.max_delay))
        try:
            return fn()
        except Exception as error:
            last_error = error
    raise RetryError(policy.max_attempts, last_error) from last_error
"""),
    ),
    _m(
        "obeys-x-should-retry-header",
        {"lab01.permanent-not-retried", "lab01.retries-transient"},
        "copies the OpenAI client's _should_retry, where an explicit x-should-retry header "
        "wins over the status: a 400 or 422 marked 'true' is retried and a 503 marked 'false' "
        "is raised at once, though the contract classifies by status alone",
        (_STATUS_RULE,
         """\
    if isinstance(error, openai.APIStatusError):
        # the OpenAI client's own rule: the server's explicit x-should-retry header wins
        should_retry = error.response.headers.get("x-should-retry")
        if should_retry in ("true", "false"):
            return should_retry == "true"
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "header-values-parsed-as-int",
        {"lab01.honours-retry-after"},
        "'retry-after is whole seconds by the RFC' so the shared header parser uses int(): a "
        "fractional retry-after-ms such as '1250.5' (which the contract says may be "
        "fractional) is unreadable and the wait falls back to retry-after or the backoff",
        ("value = float(text)", "value = int(text)"),
    ),
    _m(
        "retry-after-read-only-on-429",
        {"lab01.honours-retry-after"},
        "'retry-after is what rate limits send': the headers are read only on a "
        "RateLimitError, so a 503 (or any other failure) that says how long to wait gets the "
        "computed backoff instead",
        ("requested = server_delay(error)",
         "requested = server_delay(error) if isinstance(error, openai.RateLimitError) else None"),
    ),
    _m(
        "server-delay-capped-at-backoff",
        {"lab01.honours-retry-after"},
        "reads 'capped' as 'never longer than our own backoff': a server asking for more than "
        "the computed backoff (but less than max_delay) gets only the backoff",
        (_SERVER_SLEEP, "sleep(min(requested, backoff_delay(attempt - 1, policy, rng)))"),
    ),
    _m(
        "server-delay-as-floor",
        {"lab01.honours-retry-after"},
        "'never retry sooner than our backoff would': takes the larger of the server's delay "
        "and the backoff (then caps it), so a short retry-after-ms of 200 ms during a 4 s "
        "backoff waits 4 s; the server's delay no longer replaces the backoff",
        (_SERVER_SLEEP,
         "sleep(min(max(requested, backoff_delay(attempt - 1, policy, rng)), policy.max_delay))"),
    ),
    _m(
        "server-delay-slept-on-real-clock",
        {"lab01.honours-retry-after"},
        "the server-delay branch was written after reading the OpenAI client's retry loop, "
        "which calls time.sleep: that one wait bypasses the injected sleep, so on the frozen "
        "clock the server-requested gap is missing (and the process really sleeps)",
        (_SERVER_SLEEP, "time.sleep(min(requested, policy.max_delay))"),
    ),
    _m(
        "server-delay-limited-to-two-minutes",
        {"lab01.honours-retry-after"},
        "copies the OpenAI client's 'honour server-directed delays up to two minutes' rule: a "
        "retry-after above 120 s is ignored and the computed backoff used, instead of the "
        "server's delay capped at max_delay",
        ("            if requested is None:\n",
         "            if requested is None or requested > 120:  # as the OpenAI client does\n"),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "jitter-drawn-before-cap",
        {"lab01.capped-with-jitter"},
        "draws from [0, uncapped backoff] and then caps the draw: waits stay under the cap, "
        "but past the cap they pile up at exactly max_delay instead of being uniform over "
        "[0, capped backoff], and a seeded rng gives other waits than rng.uniform(0, capped)",
        (_CAP_AND_JITTER,
         """\
    if not policy.jitter:
        return min(policy.max_delay, exponential)
    return min(policy.max_delay, (rng or random).uniform(0.0, exponential))"""),
    ),
    _m(
        "jitter-stops-at-cap",
        {"lab01.capped-with-jitter"},
        "returns the cap as soon as the backoff reaches it ('it can't grow any more'), "
        "skipping the draw: once saturated, every client waits exactly max_delay again, in "
        "lockstep (the jupyterhub exponential_backoff bug)",
        ("    if not policy.jitter:\n        return capped\n",
         "    if not policy.jitter or exponential >= policy.max_delay:\n        return capped\n"),
    ),
    _m(
        "wrapper-forgets-rng",
        {"lab01.capped-with-jitter"},
        "RetryingLLM keeps the rng it is given but does not pass it on to retry_call: "
        "retry_call and backoff_delay honour a seed, the LLM wrapper draws from the global "
        "random module, so the same seed gives different waits",
        ("            sleep=self.sleep,\n            rng=self.rng,\n",
         "            sleep=self.sleep,\n"),
    ),
    _m(
        "fixed-seed-when-no-rng",
        {"lab01.capped-with-jitter"},
        "'retries should be reproducible by default': retry_call falls back to "
        "random.Random(0) instead of the random module when no rng is given, so every call "
        "(and every client of a fleet) draws the same 'random' waits, and random.seed has no "
        "effect",
        (_LOOP_HEAD,
         "    if rng is None:\n"
         "        rng = random.Random(0)  # reproducible by default\n" + _LOOP_HEAD),
    ),
    _m(
        "integer-jitter-randint",
        {"lab01.capped-with-jitter"},
        "uses randint for the jitter (and int() because randint wants integers): waits are "
        "whole seconds, a capped backoff under 1 s always jitters to 0, and the draws are not "
        "rng.uniform's",
        ("return (rng or random).uniform(0.0, capped)",
         "return float((rng or random).randint(0, int(capped)))"),
    ),
    # -- lab01.single-retry-layer -------------------------------------------------------------
    _m(
        "sets-max-retries-on-callers-client",
        {"lab01.single-retry-layer"},
        "turns retries off by assigning client.max_retries = 0 instead of keeping a copy: the "
        "request count is right, but the caller's own client has silently lost its retries "
        "for every other use",
        ("        self.client = client.with_options(max_retries=0)\n",
         "        client.max_retries = 0\n        self.client = client\n"),
    ),
    _m(
        "timeout-option-uses-original-client",
        {"lab01.single-retry-layer"},
        "applies a per-request timeout the way the openai README shows, "
        "client.with_options(timeout=...), but on the original client it kept, whose "
        "max_retries=2 is back on: only calls with a timeout option get two retry layers",
        ("        self.client = client.with_options(max_retries=0)\n",
         "        self._given = client\n        self.client = client.with_options(max_retries=0)\n"),
        ("        request = list(messages)\n",
         "        request = list(messages)\n"
         "        client = self.client\n"
         "        if \"timeout\" in options:\n"
         "            client = self._given.with_options(timeout=options.pop(\"timeout\"))\n"),
        ("lambda: self.client.chat.completions.create(", "lambda: client.chat.completions.create("),
    ),
)
