"""Round 3 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_STATUS_RULE = (
    "        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500\n"
)
_TRANSIENT_TYPES = (
    "(openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError)"
)
_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )"""
_OVERFLOW = """\
    try:
        exponential = policy.base_delay * policy.factor**retry
    except OverflowError:  # factor ** retry is past any float: the cap decides
        exponential = float("inf") if policy.base_delay > 0 else 0.0
"""
_JITTER = """\
    if not policy.jitter:
        return capped
    return (rng or random).uniform(0.0, capped)"""
_DRAW = "    return (rng or random).uniform(0.0, capped)"
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
_GIVE_UP = """\
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
"""
_PERMANENT_RAISED = """\
            if not is_transient(error):
                raise
"""
_BACKOFF_SLEEP = "                sleep(backoff_delay(attempt - 1, policy, rng))\n"
_KEEP_COPY = "        self.client = client.with_options(max_retries=0)\n"
_DATE_PARSE = """\
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient ------------------------------------------------------------
    _m(
        "status-classes-instead-of-codes",
        {"lab01.retries-transient"},
        "follows the openai README's table of one exception class per status and "
        "classifies by class: ConflictError (409), RateLimitError (429) and "
        "InternalServerError (every 5xx); but the client has no class for 408 and raises a "
        "plain APIStatusError for it, and an APIStatusError built directly (by another "
        "library, a proxy layer or a test) with a 429 or 5xx is not one of those classes "
        "either, so these transient failures are raised at once; client-raised 409, 429 "
        "and 5xx are still retried",
        (_STATUS_RULE,
         "        # the client raises one class per status: 409, 429 and every 5xx have their own\n"
         "        return isinstance(\n"
         "            error, (openai.ConflictError, openai.RateLimitError,"
         " openai.InternalServerError)\n"
         "        )\n"),
    ),
    _m(
        "timeouts-deemed-unsafe-to-resend",
        {"lab01.retries-transient"},
        "remembers urllib3's warning that read errors happen 'after the request was sent to "
        "the server, so the request may have side-effects' and decides a timed-out request "
        "may already have been processed: every timeout (openai.APITimeoutError, "
        "httpx.TimeoutException, TimeoutError) is raised at once instead of retried, "
        "although the contract lists timeouts as transient; refused and dropped "
        "connections and HTTP errors are still retried",
        (_TRANSIENT_FALLBACK,
         "    if isinstance(error, (openai.APITimeoutError, httpx.TimeoutException,"
         " TimeoutError)):\n"
         "        return False  # it may have gone through: sending it again could do it twice\n"
         + _TRANSIENT_FALLBACK),
    ),
    # -- lab01.exponential-backoff -----------------------------------------------------------
    _m(
        "overflow-shortcut-assumes-doubling",
        {"lab01.exponential-backoff"},
        "adds a cheap shortcut in front of the overflow guard, reasoning from the default "
        "factor 2: '2 ** 64 seconds is centuries, any cap is long reached', so a retry "
        "number past 64 gives the cap without computing the power; but the factor may be "
        "anything from 1, and with factor 1 (constant backoff) or 1.05 the formula is still "
        "below the cap there: retry 65 with factor 1 should wait base_delay and waits "
        "max_delay (the formula no longer decides)",
        (_OVERFLOW,
         """\
    if retry > 64:  # 2 ** 64 s is centuries: any cap is long reached, skip the power
        exponential = float("inf") if policy.base_delay > 0 else 0.0
    else:
        try:
            exponential = policy.base_delay * policy.factor**retry
        except OverflowError:  # factor ** retry is past any float: the cap decides
            exponential = float("inf") if policy.base_delay > 0 else 0.0
"""),
    ),
    _m(
        "backoff-restarts-on-new-failure-kind",
        {"lab01.exponential-backoff"},
        "'the backoff measures how long this problem has lasted': n counts the failures in "
        "a row of the same exception class and starts again from 0 when the class changes, "
        "so a run of 503s backs off 1, 2, 4 s as it should, but 500, 429, 503 (or a "
        "connection error then a 504) waits base_delay every time instead of "
        "base * factor ** n with n counting every failed attempt (the backoff a "
        "server-delay wait falls back to, after an unreadable header, has the same wrong n: "
        "that is this item's formula, not the header rule)",
        (_LOOP_HEAD,
         "    streak_kind: type | None = None\n"
         "    streak = 0  # failures in a row of the same kind: the backoff grows with them\n"
         + _LOOP_HEAD),
        ("            requested = server_delay(error)\n",
         "            if type(error) is streak_kind:\n"
         "                streak += 1\n"
         "            else:  # a different failure is a different problem: its backoff starts afresh\n"
         "                streak_kind, streak = type(error), 0\n"
         "            requested = server_delay(error)\n"),
        (_BACKOFF_SLEEP, "                sleep(backoff_delay(streak, policy, rng))\n"),
    ),
    _m(
        "wrapper-forgets-sleep",
        # the sleep rule is exponential-backoff's for the computed waits and
        # honours-retry-after's for the server's (README, "One mistake, one item")
        {"lab01.exponential-backoff", "lab01.honours-retry-after"},
        "RetryingLLM keeps the sleep it is given but does not pass it on to retry_call, "
        "whose default is time.sleep: retry_call used directly waits on the injected "
        "sleep, but every wait of the LLM wrapper (computed backoffs and server-requested "
        "delays alike) goes to time.sleep (bound as retry_call's default) and never "
        "moves the caller's clock; how many waits there are, and their lengths and draws, "
        "are right",
        ("            sleep=self.sleep,\n            rng=self.rng,\n",
         "            rng=self.rng,\n"),
    ),
    # -- lab01.no-sleep-after-last ------------------------------------------------------------
    _m(
        "per-kind-attempt-budgets",
        {"lab01.no-sleep-after-last"},
        "models the budget on urllib3's Retry(connect=..., status=...): transport failures "
        "and HTTP status failures each get max_attempts of their own, so a run that mixes "
        "them (a 503, a dropped connection, a 503, ...) makes more requests than the limit "
        "and waits after what should have been the final attempt; a run of one kind of "
        "failure stops exactly at the limit, and the backoff index and the reported "
        "attempt count are right",
        (_LOOP_HEAD,
         "    used = {\"transport\": 0, \"status\": 0}  # urllib3-style: one budget per kind\n"
         "    attempt = 0\n"
         "    while True:\n"
         "        attempt += 1\n"),
        (_GIVE_UP,
         "            kind = \"status\" if isinstance(error, openai.APIStatusError) else \"transport\"\n"
         "            used[kind] += 1\n"
         "            if used[kind] == policy.max_attempts:\n"
         "                raise RetryError(attempt, error) from error\n"),
    ),
    _m(
        "wrapper-counts-policy-as-client-retries",
        {"lab01.no-sleep-after-last"},
        "reads the notebook's 'max_retries=2 means three requests' and converts at the one "
        "place where the policy meets a client: RetryingLLM passes retry_call a policy with "
        "max_attempts + 1 ('the policy of a client counts retries'), so retry_call used "
        "directly stops at the limit, but the LLM wrapper sends one request more than "
        "max_attempts and waits after what should have been the last one",
        ("from dataclasses import dataclass\n", "from dataclasses import dataclass, replace\n"),
        ("            self.policy,\n",
         "            # a client's policy counts retries, as max_retries does: one more request\n"
         "            replace(self.policy, max_attempts=self.policy.max_attempts + 1),\n"),
    ),
    # -- lab01.gives-up-with-last-error -------------------------------------------------------
    _m(
        "reports-root-cause-not-last-error",
        {"lab01.gives-up-with-last-error"},
        "'openai.APIConnectionError only says \"Connection error.\"; the httpx error under "
        "it says what really happened': when the final failure is a timeout or a "
        "connection error from the OpenAI client, the RetryError carries (and chains) its "
        "__cause__, the httpx.ReadTimeout or httpx.ConnectError, instead of the last error "
        "retry_call caught; HTTP status errors and plain callables' errors are reported "
        "right",
        ("                raise RetryError(attempt, error) from error\n",
         "                last = error\n"
         "                if isinstance(error, openai.APIConnectionError) and error.__cause__:\n"
         "                    last = error.__cause__  # the real failure under the client's\n"
         "                raise RetryError(attempt, last) from last\n"),
    ),
    # -- lab01.permanent-not-retried ----------------------------------------------------------
    _m(
        "retry-after-makes-error-retryable",
        {"lab01.permanent-not-retried"},
        "'a response that says when to come back is asking to be retried' (GitHub's "
        "secondary rate limits come as 403 with Retry-After): a permanent error whose "
        "response carries retry-after or retry-after-ms is waited on and sent again, and "
        "finally wrapped in RetryError, instead of being raised at once; permanent errors "
        "without the header are raised at once",
        (_PERMANENT_RAISED,
         "            if not is_transient(error) and server_delay(error) is None:\n"
         "                raise  # no word on when to come back: it is final\n"),
    ),
    _m(
        "permanent-statuses-as-deny-list",
        {"lab01.permanent-not-retried"},
        "turns the docstring's list of permanent statuses into the rule: 400, 401, 403, "
        "404 and 422 are permanent and every other status is worth another attempt, so a "
        "405, 410, 413 or 418 is retried, waited on and wrapped in RetryError, although "
        "only 408, 409, 429 and the 5xx are transient (the five named are examples of "
        "'everything else'); the listed statuses are still raised at once",
        ("TRANSIENT_STATUSES = frozenset({408, 409, 429})\n",
         "TRANSIENT_STATUSES = frozenset({408, 409, 429})\n"
         "#: The statuses a retry cannot cure (the docstring's list).\n"
         "PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 422})\n"),
        (_STATUS_RULE, "        return error.status_code not in PERMANENT_STATUSES\n"),
    ),
    _m(
        "transient-cause-makes-wrapper-transient",
        {"lab01.permanent-not-retried"},
        "'tools re-raise network failures as their own errors (raise ToolError(...) from "
        "exc), so look at the cause': an error that is not transient itself, a "
        "RuntimeError or ValueError, is retried when its __cause__ is a TimeoutError or "
        "ConnectionError, instead of being raised at once as it is; an error classified "
        "at the top level is unaffected, and the OpenAI client's own errors are unaffected "
        "(its status errors come 'from None')",
        (_TRANSIENT_FALLBACK,
         "    if isinstance(error, " + _TRANSIENT_TYPES + "):\n"
         "        return True\n"
         "    # a wrapper around a network failure is a network failure: look at its cause\n"
         "    cause = error.__cause__\n"
         "    return cause is not None and is_transient(cause)"),
    ),
    _m(
        "retries-malformed-json",
        {"lab01.permanent-not-retried"},
        "'a reply cut off mid-stream is truncated JSON: ask again', a habit from LLM output "
        "parsing: json.JSONDecodeError joins the transient errors, so a callable that "
        "parses a malformed body is retried, waited on and wrapped in RetryError, although "
        "JSONDecodeError is a ValueError and programming errors such as ValueError are "
        "permanent; other ValueErrors are still raised at once",
        ("import email.utils\n", "import email.utils\nimport json\n"),
        (_TRANSIENT_TYPES,
         "(\n"
         "            openai.APIConnectionError, httpx.TransportError, TimeoutError,"
         " ConnectionError,\n"
         "            json.JSONDecodeError,  # a reply cut off mid-stream: ask again\n"
         "        )"),
    ),
    # -- lab01.honours-retry-after ------------------------------------------------------------
    _m(
        "unreadable-retry-after-date-raises",
        {"lab01.honours-retry-after"},
        "'a retry-after that is not a number is an HTTP date': parses it without guarding "
        "the parse, so an unreadable retry-after ('soon', '', 'in a bit') makes "
        "parsedate_to_datetime raise ValueError out of server_delay and out of the retry "
        "loop, instead of counting as absent and falling back to the computed backoff; "
        "numbers and real dates are read right",
        (_DATE_PARSE,
         "    when = email.utils.parsedate_to_datetime(text)  # not seconds: an HTTP date\n"),
    ),
    _m(
        "retry-after-ignored-under-jitter",
        {"lab01.honours-retry-after"},
        "takes the AWS article's point that fixed waits re-synchronise a fleet: with "
        "jitter on, a server's retry-after would line every client up again, so the "
        "server's delay is dropped and the jittered backoff used instead, though the "
        "contract says the server's delay (not jittered) replaces the backoff for that "
        "wait; without jitter the server's delay is honoured",
        ("            if requested is None:\n",
         "            if requested is None or policy.jitter:  # jitter keeps the fleet spread\n"),
    ),
    # -- lab01.capped-with-jitter -------------------------------------------------------------
    _m(
        "jitter-only-in-retry-loop",
        {"lab01.capped-with-jitter"},
        "'backoff_delay is the schedule, the loop that waits spreads it': the jitter draw "
        "moves into retry_call, so retry_call's waits are exactly the solution's, but "
        "backoff_delay called with a jittered policy returns the capped backoff itself, "
        "not rng.uniform(0, capped), and leaves the rng undrawn",
        (_JITTER, "    return capped  # the schedule; retry_call adds the jitter when it waits"),
        (_BACKOFF_SLEEP,
         "                delay = backoff_delay(attempt - 1, policy, rng)\n"
         "                if policy.jitter:  # full jitter belongs to the loop that waits\n"
         "                    delay = (rng or random).uniform(0.0, delay)\n"
         "                sleep(delay)\n"),
    ),
    _m(
        "decorrelated-jitter",
        {"lab01.capped-with-jitter"},
        "picks the AWS article's 'decorrelated jitter', which did best in its simulations, "
        "over full jitter: min(cap, random(base, previous * 3)), with the previous wait "
        "taken as the backoff one retry earlier; the waits stay under max_delay but are "
        "never below base_delay and often above the capped backoff (the first wait is "
        "drawn from [base, 3 * base]), so they do not lie in [0, capped backoff] and are "
        "not rng.uniform(0, capped)",
        (_DRAW,
         "    # \"decorrelated jitter\", the AWS article's best: min(cap, random(base, prev * 3))\n"
         "    previous = capped / policy.factor if retry else policy.base_delay\n"
         "    return min(policy.max_delay,"
         " (rng or random).uniform(policy.base_delay, previous * 3))"),
    ),
    _m(
        "zero-max-delay-means-no-cap",
        {"lab01.capped-with-jitter"},
        "'max_delay=0 means no limit', as a zero cap does in Kubernetes' wait.Backoff and "
        "many retry libraries: with max_delay=0 (retry at once, always) the backoff is "
        "left uncapped and grows 1, 2, 4 s, although no wait may ever be longer than "
        "max_delay; any positive cap applies as it should, and the server-delay path "
        "(which caps on its own) still caps at 0",
        ("    capped = min(policy.max_delay, exponential)\n",
         "    # max_delay=0 is 'no limit', as in many retry libraries\n"
         "    capped = min(policy.max_delay, exponential) if policy.max_delay else exponential\n"),
    ),
    _m(
        "fresh-random-instance-when-no-rng",
        {"lab01.capped-with-jitter"},
        "'when no rng is given, use a Random of our own, so as not to disturb the global "
        "random state other code relies on': a fresh random.Random() (seeded from the OS) "
        "per draw, instead of the random module's uniform, so random.seed(...) no longer "
        "makes the waits reproducible; a given rng is used right",
        (_DRAW,
         "    return (rng or random.Random()).uniform(0.0, capped)  # leave the global one alone"),
    ),
    # -- lab01.single-retry-layer -------------------------------------------------------------
    _m(
        "client-retries-kept-for-single-attempt",
        {"lab01.single-retry-layer"},
        "'with max_attempts=1 our loop never retries, so keep the client's own retries as "
        "the one layer': for a single-attempt policy the caller's client is used as it is, "
        "max_retries=2 and all, and the server sees three requests where the policy allows "
        "one; with two or more attempts the copy with retries off is used",
        (_KEEP_COPY,
         "        # a single attempt never retries: then the client's own retries are the one layer\n"
         "        self.client = (\n"
         "            client if policy.max_attempts == 1 else client.with_options(max_retries=0)\n"
         "        )\n"),
    ),
)
