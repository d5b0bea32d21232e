"""Round 8 held-out mutants for lab01, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab01")

_IMPORT_EMAIL = "import email.utils\n"
_TRANSIENT_DOC = '    """True for failures another attempt may cure."""\n'
_TRANSIENT_FALLBACK = """\
    return isinstance(
        error,
        (openai.APIConnectionError, httpx.TransportError, TimeoutError, ConnectionError),
    )
"""
_LOOP_HEAD = "    for attempt in range(1, policy.max_attempts + 1):\n"
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
_DATE_PARSE = "        when = email.utils.parsedate_to_datetime(text)\n"
_SERVER_DELAY_BODY = """\
    millis = _non_negative(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    text = headers.get("retry-after")
    seconds = _non_negative(text)
    if seconds is not None or text is None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # asctime and "-0000" dates: HTTP dates are always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())
"""
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
_HELPERS_HEAD = "def _non_negative(text: str | None) -> float | None:\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab01.retries-transient ------------------------------------------------------------
    _m(
        "refused-connection-deemed-permanent",
        {"lab01.retries-transient"},
        "'ECONNREFUSED means nothing listens on that host and port: a wrong URL or a service "
        "that is not deployed, a configuration error no retry cures': a built-in "
        "ConnectionRefusedError raised by a plain callable (socket.create_connection, "
        "asyncio.open_connection) is classified permanent and raised at once, although every "
        "built-in ConnectionError is transient (and the docstring names refused connections "
        "among the transient failures); ConnectionResetError, BrokenPipeError, "
        "ConnectionAbortedError, httpx.ConnectError and the OpenAI client's "
        "APIConnectionError for a refused connection are still retried",
        (_TRANSIENT_FALLBACK,
         "    if isinstance(error, ConnectionRefusedError):\n"
         "        return False  # ECONNREFUSED: nothing listens there, a configuration error\n"
         + _TRANSIENT_FALLBACK),
    ),
    _m(
        "local-protocol-errors-deemed-permanent",
        {"lab01.retries-transient"},
        "has read httpx's exception docs: LocalProtocolError is 'a protocol violation by the "
        "client' and UnsupportedProtocol 'a URL without http:// or https://', so both are "
        "taken for bugs in our own request and raised at once, although every "
        "httpx.TransportError is transient by the contract; a plain callable's "
        "httpx.LocalProtocolError (an h11 state error on a reused connection, say) or "
        "UnsupportedProtocol is not retried and the success after it is lost; timeouts, "
        "connect, read and write errors, RemoteProtocolError and ProxyError are retried, "
        "and the OpenAI client (which wraps them all in APIConnectionError) is unaffected",
        (_TRANSIENT_FALLBACK,
         "    if isinstance(error, (httpx.LocalProtocolError, httpx.UnsupportedProtocol)):\n"
         "        return False  # our own request is malformed: a bug, not the network\n"
         + _TRANSIENT_FALLBACK),
    ),
    _m(
        "timeout-option-popped-on-first-attempt",
        # the same request on every attempt is the rule the generator-of-messages mutant
        # (round 2) is judged by: a retry that sends another request than the first
        # attempt is retries-transient's; the client's retries stay off on every request
        {"lab01.retries-transient"},
        "applies a per-request timeout the way the openai README shows, "
        "client.with_options(timeout=...).chat.completions.create(...), on the retries-off "
        "copy, popping 'timeout' out of the options so that it is not passed twice; but the "
        "pop runs inside the function retry_call calls, so only the first attempt carries "
        "the caller's timeout: every retry is sent with the client's own timeout (the "
        "library's default: 600 s to read, 5 s to connect), so a retry that times out "
        "takes 600 s instead of the timeout asked for; calls without a timeout option, "
        "calls that succeed at once, and every other option (tools, temperature) are sent "
        "right",
        (_COMPLETE_BODY,
         """\
        request = list(messages)

        def send() -> ChatCompletion:
            client = self.client
            timeout = options.pop("timeout", None)  # per request, as the openai README shows
            if timeout is not None:
                client = client.with_options(timeout=timeout)
            return client.chat.completions.create(
                model=self.model, messages=request, **options  # type: ignore[arg-type]
            )

        return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
"""),
    ),
    # -- lab01.exponential-backoff ----------------------------------------------------------
    _m(
        "dropped-connection-resent-at-once",
        # the failed attempt still counts (n goes on), so only the wait after a dropped
        # connection is missing: the backoff's item; with jitter on, that wait is missing
        # from the code's own waits without jitter too, so the draws over them are right
        {"lab01.exponential-backoff"},
        "copies Go's http.Transport (and urllib3's pool), which resends at once a request "
        "whose reused keep-alive connection the server dropped: a failure that is a dropped "
        "connection (ConnectionResetError, BrokenPipeError, httpx.RemoteProtocolError "
        "'server disconnected', httpx.ReadError or WriteError, or the OpenAI client's "
        "APIConnectionError caused by one) is followed by the next attempt with no wait, "
        "instead of base * factor ** n; the attempt is counted, so the waits after other "
        "failures keep their n; HTTP errors, timeouts and refused connections "
        "(httpx.ConnectError, the notebook's connect_error) wait right",
        (_BACKOFF_WAIT,
         """\
            if requested is None:
                if not _dropped_connection(error):  # a stale keep-alive: resend at once
                    sleep(backoff_delay(attempt - 1, policy, rng))
"""),
        (_HELPERS_HEAD,
         '''\
_DROPPED = (ConnectionResetError, BrokenPipeError, httpx.RemoteProtocolError,
            httpx.ReadError, httpx.WriteError)


def _dropped_connection(error: BaseException) -> bool:
    """The server dropped a reused connection: the request may be resent on a fresh one."""
    return isinstance(error, _DROPPED) or isinstance(error.__cause__, _DROPPED)


''' + _HELPERS_HEAD),
    ),
    # -- lab01.no-sleep-after-last ----------------------------------------------------------
    _m(
        "bare-rate-limit-cooled-down-before-giving-up",
        {"lab01.no-sleep-after-last"},
        "'an agent that gets a RetryError for a 429 calls again at once and hits the same "
        "limit; a retry-after is on the last error for the caller to read, but a bare 429 "
        "tells it nothing, so hold it back one more backoff': when the final attempt fails "
        "with a RateLimitError that carries no usable retry-after header, retry_call sleeps "
        "backoff_delay(n) and only then raises the RetryError, a wait after the last "
        "attempt; the attempts, the waits between them and the RetryError are right, and "
        "calls whose last failure is a 5xx, a timeout, a connection error or a 429 with a "
        "retry-after give up at once",
        (_GIVE_UP,
         """\
            if attempt == policy.max_attempts:
                if isinstance(error, openai.RateLimitError) and server_delay(error) is None:
                    # the caller will come straight back: give the limit a backoff to lift
                    sleep(backoff_delay(attempt - 1, policy, rng))
                raise RetryError(attempt, error) from error
"""),
    ),
    # -- lab01.gives-up-with-last-error -----------------------------------------------------
    _m(
        "chained-to-last-errors-cause",
        {"lab01.gives-up-with-last-error"},
        "'the traceback should start where the failure really happened, not at the OpenAI "
        "wrapper's \"Connection error.\"': the RetryError carries the last error as "
        "last_error with the right attempt count, but is raised from that error's own "
        "__cause__ when it has one, so when the final failure is the OpenAI client's "
        "APIConnectionError or APITimeoutError (raised from the httpx error under it), or a "
        "plain callable's error raised from another, the RetryError's __cause__ is that "
        "inner error instead of the last error; HTTP status errors (the client raises them "
        "'from None') and errors without a cause are chained right",
        (_GIVE_UP,
         """\
            if attempt == policy.max_attempts:
                root = error.__cause__ or error  # chain to where it really failed
                raise RetryError(attempt, error) from root
"""),
    ),
    # -- lab01.permanent-not-retried --------------------------------------------------------
    _m(
        "inner-retry-error-judged-by-its-last-error",
        {"lab01.permanent-not-retried"},
        "'a RetryError is only a transient failure that has been tried a few times: judge it "
        "by what it gave up on': is_transient of a RetryError is is_transient of its "
        "last_error, so a function that has its own retry layer inside (a tool calling "
        "RetryingLLM, a nested retry_call) and gives up on a 503 or a timeout is retried by "
        "the outer retry_call, waited on and finally wrapped in another RetryError, "
        "although a RetryError is none of the transient failures and must come out at "
        "once, as it is (the two layers multiply the requests, the very thing the lab "
        "warns of); a RetryError whose last error is permanent, and every other error, are "
        "classified right",
        (_TRANSIENT_DOC,
         _TRANSIENT_DOC
         + "    if isinstance(error, RetryError):  # an inner layer gave up: judge what on\n"
         "        return is_transient(error.last_error)\n"),
    ),
    _m(
        "exception-group-of-transients-retried",
        {"lab01.permanent-not-retried"},
        "runs tool calls in an asyncio.TaskGroup, which raises an ExceptionGroup, and "
        "reasons 'the group failed only because its tasks timed out or lost their "
        "connection': an ExceptionGroup (BaseExceptionGroup) whose every member is "
        "transient is classified transient, so it is retried, waited on and finally wrapped "
        "in RetryError, although an exception group is none of the transient failures "
        "(everything else is permanent) and must be raised at once, as it is; a group with "
        "any permanent member, and every error that is not a group, are classified right",
        (_TRANSIENT_DOC,
         _TRANSIENT_DOC
         + "    if isinstance(error, BaseExceptionGroup):  # a TaskGroup's tasks all failed\n"
         "        return all(is_transient(inner) for inner in error.exceptions)\n"),
    ),
    _m(
        "waits-server-delay-before-raising-permanent",
        # the wait is on a permanent error, which the contract says is raised at once and
        # not waited on: the permanent rule's, as retrying a permanent error with
        # retry-after was (round 3); no transient wait changes
        {"lab01.permanent-not-retried"},
        "'the server said when to come back; if the 403 or 400 goes straight back to the "
        "agent it will call again too early': a permanent error whose response carries a "
        "usable retry-after-ms or retry-after (GitHub-style secondary rate limits, a "
        "gateway's 400 with Retry-After) is still raised as it is, after one call, but only "
        "after sleeping the server's delay (capped), although a permanent error is not "
        "waited on; permanent errors without the header, and every transient failure, are "
        "handled right",
        (_PERMANENT_RAISED,
         """\
            if not is_transient(error):
                requested = server_delay(error)
                if requested is not None:  # the server said when to come back: be polite
                    sleep(min(requested, policy.max_delay))
                raise
"""),
    ),
    # -- lab01.honours-retry-after ----------------------------------------------------------
    _m(
        "http-date-imf-fixdate-only",
        {"lab01.honours-retry-after"},
        "parses the HTTP date with the one format MDN shows, datetime.strptime(text, "
        "'%a, %d %b %Y %H:%M:%S GMT'), taken as UTC: the IMF-fixdate that "
        "email.utils.format_datetime(usegmt=True) writes is read right, but the obsolete "
        "forms every HTTP recipient must accept (RFC 850 'Sunday, 06-Nov-94 08:49:37 GMT', "
        "asctime 'Sun Nov  6 08:49:37 1994'), a date with a numeric zone ('+0000', '-0000', "
        "what email.utils.formatdate() writes) or 'UTC' are unreadable, so the computed "
        "backoff is waited instead of the seconds until that date (or 0 for a past one); "
        "numeric retry-after and retry-after-ms are read right",
        (_IMPORT_EMAIL, _IMPORT_EMAIL + "from datetime import datetime, timezone\n"),
        (_DATE_PARSE,
         "        # the format MDN shows: Wed, 21 Oct 2015 07:28:00 GMT\n"
         '        when = datetime.strptime(text, "%a, %d %b %Y %H:%M:%S GMT").replace(\n'
         "            tzinfo=timezone.utc\n"
         "        )\n"),
    ),
    _m(
        "retry-after-normalised-to-datetime",
        {"lab01.honours-retry-after"},
        "'retry-after is a delay or a date: turn every form into the moment the retry is "
        "allowed, then subtract now': adds timedelta(milliseconds=...) or "
        "timedelta(seconds=...) to the current time (read on time.time(), as the "
        "docstring says) and returns the difference, which is exact for every ordinary "
        "value; but a huge finite value, which is a usable delay to be capped at "
        "max_delay, overflows datetime: a retry-after of 300000000000 seconds (past the "
        "year 9999) or a retry-after-ms of 1e15 raises OverflowError out of server_delay "
        "and out of the retry loop instead of waiting the cap; values up to a few thousand "
        "years, HTTP dates and unusable headers are read right",
        (_IMPORT_EMAIL, _IMPORT_EMAIL + "from datetime import datetime, timedelta, timezone\n"),
        (_SERVER_DELAY_BODY,
         """\
    now = datetime.fromtimestamp(time.time(), timezone.utc)
    millis = _non_negative(headers.get("retry-after-ms"))
    if millis is not None:
        allowed = now + timedelta(milliseconds=millis)
    else:
        text = headers.get("retry-after")
        seconds = _non_negative(text)
        if seconds is not None:
            allowed = now + timedelta(seconds=seconds)
        elif text is None:
            return None
        else:
            try:
                allowed = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return None
            if allowed.tzinfo is None:  # an HTTP date is GMT
                allowed = allowed.replace(tzinfo=timezone.utc)
    return max(0.0, (allowed - now).total_seconds())
"""),
    ),
    # -- lab01.capped-with-jitter -----------------------------------------------------------
    _m(
        "retry-call-draws-from-rng-copy",
        {"lab01.capped-with-jitter"},
        "'a function should not change its arguments: draw from a copy of the caller's "
        "generator': retry_call starts with rng = copy.copy(rng), so one call's jittered "
        "waits are exactly the draws the given rng would make, but the given rng never "
        "advances: a second retry_call (or a second RetryingLLM.complete) with the same rng "
        "draws the same waits again instead of the next ones of the seeded stream, and "
        "the caller's later draws from it are not the ones after the waits; "
        "backoff_delay itself, rng=None and jitter off are right",
        (_IMPORT_EMAIL, "import copy\n" + _IMPORT_EMAIL),
        (_LOOP_HEAD,
         "    if rng is not None:\n"
         "        rng = copy.copy(rng)  # leave the caller's generator as it was\n"
         + _LOOP_HEAD),
    ),
    # -- lab01.single-retry-layer -----------------------------------------------------------
    _m(
        "callers-client-retries-off-while-calling",
        {"lab01.single-retry-layer"},
        "'with_options makes a whole new client; just switch the retries off for the time "
        "of the call and put them back': RetryingLLM keeps the caller's client itself and "
        "complete sets its max_retries to 0 around retry_call, restoring it in a finally, "
        "so the server sees one request per attempt and, after the call, the client has "
        "its max_retries again; but while a call is in progress (during every wait, on the "
        "sleep handed over) the caller's own client has no retries, so any other use of "
        "it meanwhile (another thread, another wrapper, the code the sleep yields to) "
        "loses its retries, instead of the client being left as it was",
        (_KEPT_CLIENT,
         "        self.client = client  # its retries are switched off only while we call\n"),
        (_COMPLETE_BODY,
         """\
        request = list(messages)
        retries = self.client.max_retries
        self.client.max_retries = 0  # one retry layer, ours, for the time of this call
        try:
            return retry_call(
                lambda: self.client.chat.completions.create(
                    model=self.model, messages=request, **options  # type: ignore[arg-type]
                ),
                self.policy,
                sleep=self.sleep,
                rng=self.rng,
            )
        finally:
            self.client.max_retries = retries
"""),
    ),
)
