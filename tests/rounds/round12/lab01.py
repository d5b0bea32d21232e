"""Round 12 held-out mutants for lab01, written without reading the grader's checks."""

# Families deliberately avoided because earlier rounds (tests/mutants/lab01.py and rounds 1
# to 11) have them:
# - transient classification: forgotten 408/409, status forcelists and 5xx range ends
#   (500-504, range(500, 599), 501), status classes instead of codes, exact-type lookups,
#   partial httpx/openai transport classes, OSError / EAGAIN / gaierror / JSONDecodeError /
#   413 / OpenAIError / httpx.HTTPError added, deny-lists of the five named statuses,
#   __cause__ / __context__ deciding, body codes, x-should-retry, message sniffing,
#   insufficient_quota, refused connections or local protocol errors deemed permanent,
#   circuit breakers, throttling buckets, caller timeouts as deadlines, tools not resent;
# - backoff: constant, linear, from one, hard-coded doubling, base dropped, whole-second
#   truncation, chained from the last wait, less the attempt's duration, restarting per
#   failure kind, carried across calls, throttled bases, exponent clamps and overflow
#   shortcuts, no wait after timeouts or dropped connections, seed guard ported one-based;
# - no-sleep-after-last: sleeping before the give-up check, counting retries, uncounted
#   attempts (server-paced, refused connections, per-kind budgets), +1 in the wrapper,
#   extra requests after giving up (timeout escalation, fallback model), cool-downs after
#   a give-up or a recovery, client retries moved into the policy;
# - gives-up: raw error, no 'from', None, first / previous / root-cause / last-HTTP error,
#   retries counted, ExceptionGroup cause, unwrapped or re-wrapped in the wrapper,
#   UnboundLocalError, timeout or server-paced give-up raised raw, 'is' on the counter;
# - permanent: every exception or HTTP error retried, wrapped in RetryError, checked on
#   the first attempt only, checked after the give-up, one blind retry, resent with a
#   fresh key or a trimmed context, waited on for its retry-after, 'from None', inner
#   RetryError or ExceptionGroup retried, context-length 400 rewrapped as ValueError;
# - retry-after: ignored, ms ignored or as seconds or floor-divided, seconds winning,
#   uncapped, added, floor, capped at the backoff, real clock, two-minute rule, int parse,
#   429 only, OpenAI errors only, negative / inf / nan / 0 mishandled, past dates, HTTP
#   date parsing (IMF only, unguarded, naive now, monotonic, Date header, whole seconds,
#   timedelta.seconds, datetime overflow), rounding up, jittered, sticky, once per call,
#   read from the cause or the message or x-ratelimit-reset, dropped under jitter;
# - jitter and cap: no cap, cap before the exponent or the base, uncapped draw, global or
#   fresh or fixed-seed random, rng copies and replays, lru_cache, one fraction per call,
#   extra draws (logging, planned schedules, idempotency keys), skipped draws (zero
#   backoff, first retry, overflow, constant factor, saturation), distribution variants
#   (added on top, equal, decorrelated, randint, rounded, mirror image, whole cap);
# - single layer: client kept, max_retries=1, with_options result dropped, caller's client
#   mutated (for good or during a call), timeout option through the original, no copy when
#   already off, shallow copy, custom max_retries respected, single-attempt exception,
#   last attempt through the caller's client, shared client closed on __del__.

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_EMAIL = "import email.utils\n"
_IMPORT_RANDOM = "import random\n"
_STATUS_RULE = """\
    if isinstance(error, openai.APIStatusError):
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
"""
_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )
"""
_BACKOFF_DOC = '    """The wait before retry number ``retry`` (0 for the first retry)."""\n'
_EXPONENTIAL = "exponential = policy.base_delay * policy.factor**retry"
_CAP = "    capped = min(policy.max_delay, exponential)\n"
_JITTER = """\
    if not policy.jitter:
        return capped
    return (rng or random).uniform(0.0, capped)
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
_GIVE_UP_CHECK = "            if attempt == policy.max_attempts:\n"
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
    # strictly narrower than the contract: only built-in network errors without the right
    # errno lose their retry (an OSError with one of those errnos is always a TimeoutError
    # or ConnectionError already), so nothing permanent becomes transient
    _m(
        "builtin-network-errors-judged-by-errno",
        {"lab01.retries-transient"},
        "carries over the C habit of classifying socket failures by errno: a built-in "
        "OSError is transient when its errno is ETIMEDOUT, ECONNREFUSED, ECONNRESET, "
        "ECONNABORTED or EPIPE, which is right for what a real socket raises; but Python "
        "code raises TimeoutError('tool timed out') and ConnectionError('dropped') with no "
        "errno at all, and so do socket.timeout and http.client.RemoteDisconnected, so a "
        "plain callable's timeouts and dropped connections are raised at once instead of "
        "retried; the OpenAI client's errors and httpx's transport errors are unaffected",
        (_IMPORT_EMAIL, "import email.utils\nimport errno\n"),
        (_TRANSIENT_FALLBACK,
         """\
    if isinstance(error, (openai.APIConnectionError, httpx.TransportError)):
        return True
    # the built-in network errors, read as the socket layer reports them: by errno
    return isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS


_NETWORK_ERRNOS = frozenset(
    {errno.ETIMEDOUT, errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}
)
"""),
    ),
    # a status the http.HTTPStatus enum does not list makes is_transient raise ValueError
    # inside retry_call's handler: an unlisted 5xx (509, 520-530, 598, 599) is not retried
    # (retries-transient), and an unlisted 4xx (419, 444, 460, 499) comes out as that
    # ValueError instead of as it is (permanent-not-retried)
    _m(
        "http-status-enum-rejects-unlisted-codes",
        {"lab01.retries-transient", "lab01.permanent-not-retried"},
        "'named statuses read better than bare numbers': is_transient turns the status "
        "into http.HTTPStatus(error.status_code) before comparing it; every status the "
        "enum lists (the registered ones: 400-418, 421-426, 428, 429, 431, 451, "
        "500-508, 510, 511) is classified right, but HTTPStatus "
        "raises ValueError for the ones it does not: a Cloudflare 520-527, a 509 or a "
        "proxy's 598/599 (any 5xx is transient) is not retried, and a 499 or 444 (a "
        "status the list does not name, so permanent) reaches the caller as a ValueError "
        "chained to it instead of as it is",
        (_IMPORT_EMAIL, "import email.utils\nfrom http import HTTPStatus\n"),
        (_STATUS_RULE,
         """\
    if isinstance(error, openai.APIStatusError):
        status = HTTPStatus(error.status_code)  # named statuses read better than numbers
        return status in TRANSIENT_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR
"""),
    ),
    # every attempt must send the same request: the retries carry a header the first
    # attempt did not, which a server (or the fake's replay_client_retries) reads as the
    # SDK's own retry; the request count and the client's retries are right, so it is not
    # single-retry-layer's contract that breaks
    _m(
        "retries-numbered-as-sdk-retries",
        {"lab01.retries-transient"},
        "'with the client's retries off, the x-stainless-retry-count header the SDK puts "
        "on its own retries always says 0: our layer should number its retries instead, "
        "so the server's logs stay right': RetryingLLM sends attempt n with extra_headers "
        "x-stainless-retry-count: n (merged with the caller's extra_headers), so the "
        "attempts are no longer the same request: a server that answers a client's retry "
        "as it answered the request it repeats (the fake's replay_client_retries) gives "
        "every later attempt the first failure again, and the success the script holds "
        "after it is never returned; the number of requests and the waits are right",
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        sent = 0

        def send() -> ChatCompletion:
            nonlocal sent
            # number our retries as the SDK numbers its own, for the server's logs
            headers = {**(options.get("extra_headers") or {}),
                       "x-stainless-retry-count": str(sent)}
            sent += 1
            return self.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model, messages=request, **{**options, "extra_headers": headers}
            )

        return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
"""),
    ),
    # past Python's recursion limit (about 1000 frames) the attempts the policy allows are
    # never made, so a late success is lost (retries-transient), and a call that fails
    # throughout ends in RecursionError instead of RetryError (gives-up-with-last-error);
    # below it every attempt, wait and error is the solution's
    _m(
        "recursive-retry-hits-recursion-limit",
        {"lab01.retries-transient", "lab01.gives-up-with-last-error"},
        "writes the loop as recursion, the way retry helpers are often written in "
        "JavaScript ('try once; on a transient failure wait, then retry with the next "
        "attempt number'): every attempt is one more stack frame, so a patient policy "
        "(max_attempts=2000, base_delay=0, a job that polls until a service is up) hits "
        "Python's recursion limit after about a thousand attempts: a success on attempt "
        "1200 is never reached, and a call whose every attempt fails ends in "
        "RecursionError instead of RetryError(2000, last error); policies of a few hundred "
        "attempts behave exactly like the loop",
        (_RETRY_LOOP,
         """\
    def attempt_from(attempt: int) -> T:
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
        return attempt_from(attempt + 1)  # the same steps, one attempt further on

    return attempt_from(1)
"""),
    ),
    # -- lab01.exponential-backoff ----------------------------------------------------------
    # the plain waits are base * n ** factor instead of base * factor ** n; the cap holds
    # and jitter still draws uniform(0, capped) of the (wrong) backoff, as round 4's
    # base-delay-dropped-from-formula is judged
    _m(
        "math-pow-arguments-swapped",
        {"lab01.exponential-backoff"},
        "reaches for math.pow ('it always returns a float, no int overflow surprises') and "
        "writes math.pow(retry, policy.factor): the backoff is base * n ** factor, a "
        "polynomial, instead of base * factor ** n: the default policy waits 0, 1, 4, 9, "
        "16 s instead of 1, 2, 4, 8, 16 s (factor 1 gives 0, 1, 2, 3 s); the cap, the "
        "overflow guard, the jitter draw and server delays are unchanged",
        (_IMPORT_RANDOM, "import math\nimport random\n"),
        (_EXPONENTIAL, "exponential = policy.base_delay * math.pow(retry, policy.factor)"),
    ),
    # the first wait is 0 instead of base_delay (exponential-backoff); with jitter on that
    # wait makes no draw, so every later jittered wait is the rng's previous draw, not the
    # stream's next one. Written as {exponential-backoff, capped-with-jitter}; judged, as
    # round 4's base-delay-dropped-from-formula, exponential-backoff's alone: the jitter is
    # judged over a right backoff, and this backoff is wrong at retry 0
    _m(
        "urllib3-first-retry-immediate",
        {"lab01.exponential-backoff"},
        "ports urllib3 1.x's Retry.get_backoff_time, which returns 0 while there has been "
        "only one error ('the first retry goes out at once, a blip rarely needs a wait') "
        "and backoff_factor * 2 ** (errors - 1) after that: the later waits are exactly "
        "base * factor ** n, but the wait before the first retry is 0 instead of "
        "base_delay, and with jitter on it is returned without drawing from the rng, so a "
        "seeded rng's waits are shifted by one draw from the second wait on",
        (_BACKOFF_DOC,
         _BACKOFF_DOC + "    if retry == 0:  # as urllib3: the first retry goes out at once\n"
         "        return 0.0\n"),
    ),
    # a max_delay below 30 s is exceeded (capped-with-jitter); above 30 s the waits stop
    # at 30 s where min(max_delay, base * factor ** n) keeps growing (exponential-backoff,
    # as round 1's exponent clamp is judged); server delays keep the policy's cap
    _m(
        "cap-copied-from-the-notebook",
        {"lab01.capped-with-jitter", "lab01.exponential-backoff"},
        "copies the notebook's cell [min(30.0, base * factor**n) ...] into backoff_delay: "
        "with the default max_delay of 30 s every wait is right, but RetryPolicy("
        "max_delay=5) waits 8 and 16 s, past its cap (and jitter draws from [0, 8]), and "
        "RetryPolicy(max_delay=120) stops growing at 30 s instead of waiting 32 and 64 s; "
        "a server's delay is still capped at the policy's max_delay",
        (_CAP, "    capped = min(30.0, exponential)  # the cap, as the notebook computes it\n"),
    ),
    # -- lab01.no-sleep-after-last ----------------------------------------------------------
    # only max_attempts=1 changes: a second request after a wait; the RetryError counts
    # the two attempts made, and the wait and its draw are an ordinary backoff wait
    _m(
        "single-attempt-policy-widened-to-two",
        {"lab01.no-sleep-after-last"},
        "'a retry layer that never retries is a misconfiguration: RetryPolicy("
        "max_attempts=1) is what people write when they mean one retry, as the OpenAI "
        "client's max_retries=1 does': retry_call makes max(max_attempts, 2) attempts, so "
        "a single-attempt policy waits base_delay after its failure and sends a second "
        "request (returning its success, or RetryError(2, ...)); every policy of two or "
        "more attempts is right",
        (_LOOP_HEAD,
         "    attempts = max(policy.max_attempts, 2)  # one attempt only is surely a typo\n"
         "    for attempt in range(1, attempts + 1):\n"),
        (_GIVE_UP_CHECK, "            if attempt == attempts:\n"),
    ),
    # -- lab01.gives-up-with-last-error -----------------------------------------------------
    # the RetryError is raised at the right moment and chained from the last error, but its
    # attempts is that error and its last_error the count
    _m(
        "retry-error-arguments-swapped",
        {"lab01.gives-up-with-last-error"},
        "writes RetryError(error, attempt) from habit ('an exception takes what went wrong "
        "first, like Exception(error)'), without looking at the given signature "
        "(attempts, last_error): the RetryError is raised when it should be and its "
        "__cause__ is the last error, but its attempts is the error object and its "
        "last_error the attempt count, and the message reads 'gave up after "
        "Request timed out. attempts: 4'",
        ("raise RetryError(attempt, error) from error",
         "raise RetryError(error, attempt) from error"),
    ),
    # -- lab01.permanent-not-retried --------------------------------------------------------
    # sent once and not waited on, same class and status, but another object: 'as it is'
    # is broken; transient failures still end in the RetryError retry_call raised
    _m(
        "permanent-error-rebuilt-with-model-name",
        {"lab01.permanent-not-retried"},
        "'the agent talks to several models, so say which one refused the request': "
        "RetryingLLM catches the openai.APIStatusError retry_call lets through (only "
        "permanent ones do) and raises a new error of the same class, built with the same "
        "response and body and the message prefixed with the model, from the original: "
        "isinstance, status_code and body all look right and it is sent once, but the "
        "caller gets a copy instead of the error itself, and its __cause__ is the error "
        "that should have come out; retry_call used directly is right",
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
        except openai.APIStatusError as error:  # only permanent ones get here
            # several models share the agent: say which one refused the request
            raise type(error)(
                f"{self.model}: {error.message}", response=error.response, body=error.body
            ) from error
"""),
    ),
    # -- lab01.honours-retry-after ----------------------------------------------------------
    # numeric headers are untouched; an HTTP date is read as local time, so on any machine
    # whose TZ is not UTC the wait is off by the UTC offset (0 east of Greenwich, up to
    # the cap west of it); dates with impossible fields are normalised instead of unreadable
    _m(
        "http-date-read-as-local-time",
        {"lab01.honours-retry-after"},
        "reads the retry-after date the way many snippets do, "
        "time.mktime(email.utils.parsedate(text)) - time.time(): parsedate drops the "
        "zone and mktime takes the fields as local time, so in a UTC container (CI, the "
        "grader's default) every HTTP date gives the right wait, but on a laptop in "
        "Moscow (TZ=Europe/Moscow) a date 5 s ahead is read as 3 hours in the past and "
        "waits 0, and in New York as 5 hours ahead and waits the cap; mktime_tz or "
        "parsedate_to_datetime would have kept the GMT; numeric retry-after and "
        "retry-after-ms are right",
        (_DATE_BRANCH,
         """\
    fields = email.utils.parsedate(text)  # the date's fields, as time.mktime takes them
    if fields is None:
        return None
    try:
        when = time.mktime(fields)
    except (OverflowError, ValueError):
        return None
    return max(0.0, when - time.time())
"""),
    ),
    # -- lab01.capped-with-jitter -----------------------------------------------------------
    # every wait is right; without jitter the rng (or the random module) is still drawn
    # from once per wait, so an rng shared with jittered calls is pushed along
    _m(
        "jitter-drawn-even-without-jitter",
        {"lab01.capped-with-jitter"},
        "'one code path for both settings: draw, then pick': backoff_delay always draws "
        "(rng or random).uniform(0, capped) and returns it only when jitter is on; every "
        "wait is right, but without jitter the rng is drawn from anyway, so a seeded rng "
        "shared by a RetryingLLM whose policy has jitter off and one whose policy has it "
        "on makes the jittered waits skip draws, and random.seed no longer reproduces the "
        "jittered waits of code that runs after an unjittered retry",
        (_JITTER,
         """\
    drawn = (rng or random).uniform(0.0, capped)  # one code path: draw, then pick
    return drawn if policy.jitter else capped
"""),
    ),
    # -- lab01.single-retry-layer -----------------------------------------------------------
    # the first give-up swaps the retries-off copy for a plain copy of the caller's client
    # (max_retries=2): later calls multiply the requests; our own attempts and waits, the
    # RetryError and the caller's client are right
    _m(
        "fresh-client-after-giving-up-keeps-sdk-retries",
        {"lab01.single-retry-layer"},
        "'after an outage the pooled connections may be dead: start the next call on a "
        "fresh client': when a call gives up, RetryingLLM replaces its client with "
        "self._given.copy(), believing copy() opens new connections (it shares the http "
        "client, and keeps the caller's max_retries=2); every call up to the first "
        "RetryError sends one request per attempt, but every call after it reaches the "
        "server up to three times per attempt, the SDK's own waits in between",
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
        except RetryError:
            # the connections may be stale after an outage: a fresh client for the next call
            self.client = self._given.copy()
            raise
"""),
    ),
)
