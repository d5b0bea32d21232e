"""Lab 01 scenarios: the retry layer against scripted failures, on a detached frozen clock.

Every run records what the server saw (each request's arrival and outcome), every wait the
submission asked for (through the ``sleep`` it was handed or through ``time.sleep``, and
after how many requests), and how the call ended. The clock is detached
(:class:`labs.kit.clock.FrozenClock`): only the handed ``sleep`` moves it, so a wait taken
with ``time.sleep`` shows as a wait that took no time.

Besides a few fixed, readable runs, most cases are generated from a seed
(:func:`generated_cases`, :func:`jitter_cases`): policies, failure kinds, server-requested
delays in every form the contract names, permanent errors part-way. A case with server
delays is also run as its *twin*, the same script with the headers taken off, so that a
check can compare a wait the server asked for with the one the submission computes by
itself. The checks regenerate the same cases in the parent and derive what each run should
have done from the contract; nothing here judges.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import email.utils
import gc
import json
import random
import socket
import ssl
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any
from unittest import mock

import httpx
import openai

from grader.observe import describe_error, outcome, plain, required, type_name
from grader.scenarios import Registry, raised_from
from labs.kit.clock import PROCESS_START, FrozenClock
from labs.kit.fake_llm import FakeLLM, Step, connect_error, failure, reply, timeout

SCENARIOS = Registry(process_clock_stopped=True)
PROMPT = [{"role": "user", "content": "Disk is full on web-1. Sort it out."}]

#: Failure kinds the contract calls transient, and those it calls permanent.
TRANSIENT_KINDS = ("408", "409", "429", "500", "501", "502", "503", "504", "507", "599",
                   "timeout", "connect")
PERMANENT_KINDS = ("400", "401", "403", "404", "410", "422")
#: More statuses the contract's "everything else" makes permanent, asked about directly.
MORE_PERMANENT_STATUSES = ("405", "413", "415")
#: The text of the reply that ends a case in success, and of one beyond the limit.
SUCCESS = "recovered"
TOO_LATE = "one attempt too many"


# -- what a case is --------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """A server-requested delay as it travels: the header, its text, and what the contract
    says it means in seconds (None: unreadable, fall back to the computed backoff)."""

    name: str
    text: str
    seconds: float | None


@dataclass(frozen=True)
class Attempt:
    """What the server does with one request: ``kind`` is ``"ok"``, an HTTP status
    (``"503"``), ``"timeout"`` or ``"connect"``; a failure may carry delay headers."""

    kind: str
    headers: tuple[Header, ...] = ()
    noise: tuple[tuple[str, str], ...] = ()

    @property
    def requested(self) -> float | None:
        """The delay the headers ask for, by the contract: ``retry-after-ms`` wins."""
        by_name = {h.name: h.seconds for h in self.headers}
        if by_name.get("retry-after-ms") is not None:
            return by_name["retry-after-ms"]
        return by_name.get("retry-after")


@dataclass(frozen=True)
class Case:
    """A policy, the server's script (one attempt per request, in order), and the seed of
    the rng handed to the wrapper (None: no rng)."""

    name: str
    policy: tuple[tuple[str, Any], ...]
    script: tuple[Attempt, ...]
    seed: int | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.policy)

    @property
    def has_headers(self) -> bool:
        return any(attempt.headers for attempt in self.script)

    @property
    def has_noise(self) -> bool:
        """Whether some failure carries a header the contract ignores."""
        return any(attempt.noise for attempt in self.script)

    def twin(self, **changes: Any) -> "Case":
        """The same script without delay headers or ignored ones (and with ``changes`` to
        the policy): what the submission does when the server says nothing."""
        policy = {**self.settings, **changes}
        return Case(f"{self.name}-twin", tuple(policy.items()),
                    tuple(Attempt(a.kind) for a in self.script), self.seed)


def backoff_twin(case: Case) -> Case:
    """A jittered case's twin: no headers, no jitter and no rng, so its waits are the
    submission's own capped backoff, which an rng handed over cannot have changed."""
    return replace(case.twin(jitter=False), seed=None)


def _http_date(seconds_from_now: int) -> str:
    """An HTTP date ``seconds_from_now`` after the process clock, which stands still."""
    when = PROCESS_START + _dt.timedelta(seconds=seconds_from_now)
    return email.utils.format_datetime(when, usegmt=True)


#: The forms of a server-requested delay the contract names, dealt evenly (see :class:`_Deck`).
HEADER_FORMS = ("ms", "fractional-ms", "seconds", "date", "past-date", "unreadable", "both",
                "zero", "bad-ms")


class _Deck:
    """Deals the header forms in shuffled rounds, so that every form turns up."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.cards = rng, []

    def deal(self) -> str:
        if not self.cards:
            self.cards = list(HEADER_FORMS)
            self.rng.shuffle(self.cards)
        return self.cards.pop()


def _header(rng: random.Random, form: str) -> tuple[Header, ...]:
    """A server-requested delay in ``form``, as the contract names them."""
    if form == "ms":
        millis = rng.choice((250, 1500, 4750, 90000))
        return (Header("retry-after-ms", _number(millis), millis / 1000),)
    if form == "fractional-ms":
        millis = rng.choice((2500.5, 1250.25, 333.5))
        return (Header("retry-after-ms", _number(millis), millis / 1000),)
    if form == "seconds":
        seconds = rng.choice((1, 3, 7, 150))
        return (Header("retry-after", str(seconds), float(seconds)),)
    if form == "date":
        seconds = rng.randint(2, 40)
        return (Header("retry-after", _http_date(seconds), float(seconds)),)
    if form == "past-date":
        return (Header("retry-after", _http_date(-rng.randint(60, 86400)), 0.0),)
    if form == "unreadable":
        return (Header("retry-after", rng.choice(("soon", "inf", "-5", "1e999")), None),)
    if form == "zero":
        return (Header(rng.choice(("retry-after", "retry-after-ms")), "0", 0.0),)
    if form == "bad-ms":
        seconds = rng.choice((2, 6))
        return (Header("retry-after-ms", rng.choice(("-300", "soon", "inf")), None),
                Header("retry-after", str(seconds), float(seconds)))
    millis = rng.choice((300, 1200))
    return (Header("retry-after-ms", str(millis), millis / 1000),
            Header("retry-after", str(rng.choice((9, 20))), None))


#: A header of the server's that says nothing the contract listens to.
NOISE = "x-should-retry"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _policy(rng: random.Random, *, jitter: bool = False) -> dict[str, Any]:
    return {
        "max_attempts": rng.choice((1, 2, 3, 4, 5, 6, 8, 9)),
        "base_delay": rng.choice((0.1, 0.25, 0.5, 1.0, 2.0, 3.0)),
        "factor": rng.choice((1.0, 1.5, 2.0, 3.0)),
        "max_delay": rng.choice((0.5, 2.0, 5.0, 12.0, 100.0, 1000.0)),
        "jitter": jitter,
    }


def _script(rng: random.Random, deck: _Deck, policy: dict[str, Any], *, headers: float,
            permanent: float) -> tuple[Attempt, ...]:
    """Failures (some with delay headers, some with a header the contract ignores), then a
    success within the limit or one too late; sometimes a permanent error part-way, after
    which nothing more is asked."""
    limit = policy["max_attempts"]
    failures = rng.randint(0, limit + 1)
    script: list[Attempt] = []
    for _ in range(failures):
        kind = rng.choice(TRANSIENT_KINDS)
        carries = kind.isdigit() and rng.random() < headers
        script.append(Attempt(kind, _header(rng, deck.deal()) if carries else (),
                              _noise(rng) if kind.isdigit() else ()))
    if script and rng.random() < permanent:
        cut = rng.randrange(min(len(script), limit))
        ending = Attempt(rng.choice(PERMANENT_KINDS), noise=_noise(rng))
        return (*script[:cut], ending, Attempt("ok"))
    script.append(Attempt("ok"))
    return tuple(script)


def _noise(rng: random.Random) -> tuple[tuple[str, str], ...]:
    """Now and then, headers the OpenAI server sends that the contract ignores: its own hint
    on retrying, and when its rate limits reset."""
    noise: list[tuple[str, str]] = []
    if rng.random() < 0.3:
        noise.append((NOISE, rng.choice(("true", "false"))))
    if rng.random() < 0.3:
        noise += [("x-ratelimit-reset-requests", rng.choice(("6m0s", "1.5s", "20ms"))),
                  ("x-ratelimit-reset-tokens", rng.choice(("1s", "12m30s")))]
    return tuple(noise)


#: The seeds the generated cases come from.
CASES_SEED = 20260101
JITTER_SEED = 20260202


def generated_cases() -> list[Case]:
    """Policies and scripts without jitter: the waits, delays, limits and endings."""
    rng = random.Random(CASES_SEED)
    deck = _Deck(rng)
    cases = []
    for number in range(40):
        policy = _policy(rng)
        script = _script(rng, deck, policy, headers=0.5, permanent=0.2)
        cases.append(Case(f"case-{number + 1}", tuple(policy.items()), script))
    long_delays = (Attempt("503", (Header("retry-after", "150", 150.0),)),
                   Attempt("429", (Header("retry-after-ms", "200000", 200.0),)),
                   Attempt("503", (Header("retry-after", "400", 400.0),)), Attempt("ok"))
    cases.append(Case("long-delays", (("max_attempts", 4), ("base_delay", 1.0), ("factor", 2.0),
                                      ("max_delay", 1000.0), ("jitter", False)), long_delays))
    cases.append(Case("zero-cap", (("max_attempts", 4), ("base_delay", 1.0), ("factor", 2.0),
                                   ("max_delay", 0.0), ("jitter", False)),
                      (Attempt("503"), Attempt("500"), Attempt("503"), Attempt("ok"))))
    not_numbers = (Attempt("503", (Header("retry-after-ms", "nan", None),
                                   Header("retry-after", "3", 3.0))),
                   Attempt("429", (Header("retry-after", "NaN", None),)), Attempt("ok"))
    cases.append(Case("not-a-number", (("max_attempts", 4), ("base_delay", 0.5),
                                       ("factor", 2.0), ("max_delay", 30.0), ("jitter", False)),
                      not_numbers))
    for number, (base, factor) in enumerate(((0.1, 2.0), (0.05, 3.0), (0.5, 1.5))):
        policy = {"max_attempts": 9, "base_delay": base, "factor": factor,
                  "max_delay": 1000.0, "jitter": False}
        script = tuple(Attempt(rng.choice(TRANSIENT_KINDS)) for _ in range(9))
        cases.append(Case(f"long-{number + 1}", tuple(policy.items()), script + (Attempt("ok"),)))
    return cases


def jitter_cases() -> list[Case]:
    """Jittered policies with seeded rngs: header-free ones failing to the limit, and a few
    whose server asks for delays too."""
    rng = random.Random(JITTER_SEED)
    deck = _Deck(rng)
    cases = []
    for number in range(14):
        policy = _policy(rng, jitter=True)
        policy["max_attempts"] = rng.randint(3, 6)
        with_headers = number >= 9
        script = tuple(
            Attempt(kind, _header(rng, deck.deal())
                    if with_headers and kind.isdigit() and rng.random() < 0.6 else ())
            for kind in (rng.choice(TRANSIENT_KINDS) for _ in range(policy["max_attempts"]))
        ) + (Attempt("ok"),)
        cases.append(Case(f"jitter-{number + 1}", tuple(policy.items()), script,
                          seed=rng.randint(1, 10**6)))
    return cases


# -- running a case ----------------------------------------------------------------------


def _step(attempt: Attempt, text: str) -> Step:
    if attempt.kind == "ok":
        return reply(text)
    if attempt.kind == "timeout":
        return timeout(latency=0.0)
    if attempt.kind == "connect":
        return connect_error()
    headers = {h.name: h.text for h in attempt.headers}
    return failure(int(attempt.kind), headers={**headers, **dict(attempt.noise)})


def script_steps(script: Sequence[Attempt], limit: int) -> list[Step]:
    """The fake server's steps for ``script`` under an attempt ``limit``: a success the
    limit lets the caller reach answers :data:`SUCCESS`, one beyond it :data:`TOO_LATE`;
    one more step after the script answers :data:`TOO_LATE` too."""
    steps = [_step(attempt, SUCCESS if index < limit else TOO_LATE)
             for index, attempt in enumerate(script)]
    return steps + [reply(TOO_LATE)]


def _content(completion: Any) -> Any:
    """The reply's text; whatever else came back (None, say) is kept as plain data."""
    try:
        return plain(completion.choices[0].message.content)
    except Exception:  # noqa: BLE001 - not a completion: report what it was
        return plain(completion)


def _raised(error: BaseException, lab: ModuleType,
            final: Callable[[], BaseException | None] | None = None) -> dict[str, Any]:
    """An exception, with what a retry error carries when it is one (and, with ``final``,
    whether its ``last_error`` is that very error)."""
    seen = describe_error(error)
    seen["is_retry_error"] = isinstance(error, lab.RetryError)
    last = getattr(error, "last_error", None)
    seen["attempts"] = plain(getattr(error, "attempts", None))
    seen["last_error"] = None if last is None else type_name(last)
    seen["last_error_status"] = plain(getattr(last, "status_code", None))
    seen["cause_is_last_error"] = last is not None and error.__cause__ is last
    seen["status"] = plain(getattr(error, "status_code", None))
    if final is not None:
        seen["last_is_final"] = last is not None and last is final()
    return seen


class _Waits:
    """Every wait asked for, in order: ``[requests so far, seconds, via]``, where ``via``
    is ``"sleep"`` (the one handed over), ``"time.sleep"``, or ``"client"`` (a
    ``time.sleep`` of the OpenAI client's own retry loop). Requests so far counts the
    caller's own requests, not the client's retries of them."""

    def __init__(self, clock: FrozenClock, requests: Callable[[], int]) -> None:
        self.clock, self.requests = clock, requests
        self.seen: list[list[Any]] = []

    def sleep(self, seconds: float) -> None:
        self.seen.append([self.requests(), plain(seconds), "sleep"])
        self.clock.sleep(seconds)

    def process_sleep(self, seconds: float) -> None:
        caller = str(sys._getframe(1).f_globals.get("__name__", ""))  # noqa: SLF001
        via = "client" if caller.split(".")[0] == "openai" else "time.sleep"
        self.seen.append([self.requests(), plain(seconds), via])


def sent_headers(llm: FakeLLM) -> list[dict[str, str]]:
    """The headers of each of the caller's own requests (not the client's retries), in
    order. The fake tells the two apart by the client call that sent them, so a caller that
    numbers its attempts in the client's ``x-stainless-retry-count`` header still makes
    requests of its own."""
    return [dict(r.headers) for r in llm.requests if not r.client_retry]


@contextmanager
def _run(script: Sequence[Step]) -> Iterator[tuple[FakeLLM, FrozenClock, _Waits]]:
    with FrozenClock(detached=True) as clock, \
            FakeLLM(script, clock=clock, replay_client_retries=True) as llm:
        waits = _Waits(clock, lambda: sum(1 for r in llm.requests if not r.client_retry))
        # the client's own retries (a wrapper that leaves them on) must not draw from the
        # random module a jittered run without an rng draws from
        with mock.patch("time.sleep", waits.process_sleep), \
                mock.patch("openai._base_client.random", random.Random(0).random):
            yield llm, clock, waits


def _observed(seen: dict[str, Any], llm: FakeLLM, clock: FrozenClock,
              waits: _Waits) -> dict[str, Any]:
    seen["requests"] = [{"at": r.at, "outcome": r.outcome} for r in llm.requests
                        if not r.client_retry]
    seen["client_retries"] = sum(1 for r in llm.requests if r.client_retry)
    seen["waits"] = waits.seen
    seen["ended_at"] = clock.elapsed()
    return seen


def _run_llm(
    lab: ModuleType,
    script: Sequence[Step],
    policy: dict[str, Any],
    *,
    rng: random.Random | None = None,
    client_options: dict[str, Any] | None = None,
    messages: Sequence[dict[str, Any]] = PROMPT,
    call_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``RetryingLLM.complete`` of ``messages`` (with ``call_options``) against
    ``script``: what the server, the clock and the caller saw. The client has its own
    retries off unless ``client_options`` say else."""
    with _run(script) as (llm, clock, waits):
        options = {"max_retries": 0} if client_options is None else client_options
        client = llm.client(**options)

        def complete() -> Any:
            wrapper = lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**policy), sleep=waits.sleep, rng=rng
            )
            return wrapper.complete(messages, **(call_options or {}))

        seen = outcome(complete, keep=_content, describe=lambda e: _raised(e, lab))
        return _observed(seen, llm, clock, waits)


def run_case(lab: ModuleType, case: Case) -> dict[str, Any]:
    rng = random.Random(case.seed) if case.seed is not None else None
    return _run_llm(lab, script_steps(case.script, case.settings["max_attempts"]),
                    case.settings, rng=rng)


def _run_call(
    lab: ModuleType, effects: Sequence[Callable[[], Any]], policy: dict[str, Any], *,
    final: Callable[[], BaseException | None] | None = None,
) -> dict[str, Any]:
    """``retry_call`` over a plain function whose n-th call does ``effects[n]``. With
    ``final`` (the error the function raised last), ``last_is_final`` says whether what
    ``retry_call`` raised carries that very error as its ``last_error``."""
    calls = 0

    def fn() -> Any:
        nonlocal calls
        calls += 1
        return effects[min(calls, len(effects)) - 1]()

    with FrozenClock(detached=True) as clock:
        waits = _Waits(clock, lambda: calls)
        with mock.patch("time.sleep", waits.process_sleep):
            seen = outcome(
                lambda: lab.retry_call(fn, lab.RetryPolicy(**policy), sleep=waits.sleep),
                describe=lambda e: _raised(e, lab, final),
            )
        seen["calls"] = calls
        seen["waits"] = waits.seen
        return seen


def _raise(error: BaseException) -> Callable[[], Any]:
    def effect() -> Any:
        raise error

    return effect


QUICK = {"max_attempts": 3, "base_delay": 0.5}


# -- the scenarios -----------------------------------------------------------------------


def _status_errors(statuses: Sequence[str]) -> dict[str, BaseException]:
    """The errors the OpenAI client itself raises for each HTTP status, by status."""
    errors: dict[str, BaseException] = {}
    with FakeLLM([failure(int(s)) for s in statuses]) as llm:
        client = llm.client(max_retries=0)
        for status in statuses:
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
            except openai.APIStatusError as error:
                errors[status] = error
    return errors


def _http_status_error(status: int) -> httpx.HTTPStatusError:
    """What ``response.raise_for_status()`` raises in a plain function's HTTP call."""
    request = httpx.Request("GET", "https://deploy.internal/api/releases/2.4.1")
    return httpx.HTTPStatusError(f"{status} from the release API", request=request,
                                 response=httpx.Response(status, request=request))


def _caused_by_a_timeout() -> BaseException:
    """A permanent error raised from a transient one (``raise ... from``)."""
    return raised_from(RuntimeError("could not read the deploy plan"), TimeoutError("slow disk"))


#: The built-in OSErrors, by the contract: TimeoutError and ConnectionError (asked about
#: above) are transient, and so is every kind of ConnectionError; every other OSError is
#: permanent, EAGAIN (BlockingIOError) and EINTR (InterruptedError) among them.
TRANSIENT_OS_ERRORS = (BrokenPipeError, ConnectionAbortedError, ConnectionRefusedError,
                       ConnectionResetError)
PERMANENT_OS_ERRORS = (OSError, BlockingIOError, InterruptedError, ChildProcessError,
                       FileExistsError, IsADirectoryError, NotADirectoryError,
                       ProcessLookupError, socket.gaierror, socket.herror)
#: httpx's errors: every TransportError is transient; its other request errors are not.
TRANSIENT_HTTPX_ERRORS = (httpx.ConnectTimeout, httpx.WriteTimeout, httpx.PoolTimeout,
                          httpx.ReadError, httpx.WriteError, httpx.CloseError,
                          httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.ProxyError,
                          httpx.UnsupportedProtocol)
PERMANENT_HTTPX_ERRORS = (httpx.DecodingError, httpx.TooManyRedirects)


def error_name(kind: type[BaseException]) -> str:
    """``BlockingIOError``, ``httpx.ReadError``, ``socket.gaierror``: how a hint names an
    exception type."""
    return kind.__name__ if kind.__module__ == "builtins" else \
        f"{kind.__module__.split('.')[0].lstrip('_')}.{kind.__name__}"


@SCENARIOS.scenario
def classification(lab: ModuleType) -> dict[str, Any]:
    """``is_transient`` asked directly about every kind of error the contract names."""
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    statuses = [kind for kind in TRANSIENT_KINDS + PERMANENT_KINDS + MORE_PERMANENT_STATUSES
                if kind.isdigit()]
    errors: dict[str, Callable[[], BaseException]] = {
        **{status: (lambda e=error: e) for status, error in _status_errors(statuses).items()},
        "openai.APITimeoutError": lambda: openai.APITimeoutError(request=request),
        "openai.APIConnectionError": lambda: openai.APIConnectionError(request=request),
        "httpx.ReadTimeout": lambda: httpx.ReadTimeout("slow", request=request),
        "httpx.ConnectError": lambda: httpx.ConnectError("refused", request=request),
        "TimeoutError": lambda: TimeoutError("slow disk"),
        "ConnectionError": lambda: ConnectionResetError("reset by peer"),
        "ValueError": lambda: ValueError("negative disk size"),
        "KeyError": lambda: KeyError("service"),
        "FileNotFoundError": lambda: FileNotFoundError(2, "No such file", "/etc/deploy.yml"),
        "json.JSONDecodeError": lambda: json.JSONDecodeError("Expecting value", "{oops", 1),
        "ValueError about a timeout": lambda: ValueError("timeout must be positive"),
        "RuntimeError saying try again": lambda: RuntimeError(
            "service temporarily unavailable, try again later"),
        "httpx.HTTPStatusError 503": lambda: _http_status_error(503),
        "RuntimeError from TimeoutError": _caused_by_a_timeout,
        "PermissionError": lambda: PermissionError(13, "Permission denied", "/var/log"),
        **{error_name(kind): (lambda kind=kind: kind("try again"))
           for kind in (*TRANSIENT_OS_ERRORS, *PERMANENT_OS_ERRORS)},
        **{error_name(kind): (lambda kind=kind: kind("failed", request=request))
           for kind in (*TRANSIENT_HTTPX_ERRORS, *PERMANENT_HTTPX_ERRORS)},
        "openai.OpenAIError": lambda: openai.OpenAIError(
            "The api_key client option must be set"),
        "openai.ContentFilterFinishReasonError": openai.ContentFilterFinishReasonError,
        "RetryError of a 503": lambda: lab.RetryError(3, _status_errors(["503"])["503"]),
        **({"ExceptionGroup of timeouts": lambda: builtins.ExceptionGroup(
            "two calls failed", [TimeoutError("slow"), ConnectionResetError("reset")])}
           if hasattr(builtins, "ExceptionGroup") else {}),
    }
    errors.update({link.name: (lambda link=link: link.make(request))
                   for link in linked_errors()})
    return {name: outcome(lambda make=make: plain(lab.is_transient(make())))
            for name, make in errors.items()}


#: Errors by name, each made fresh: transient ones and permanent ones, to link to each other.
def _transient_maker(name: str, request: httpx.Request) -> BaseException:
    return {
        "ConnectionError": lambda: ConnectionError("the tunnel to the bastion closed"),
        "TimeoutError": lambda: TimeoutError("the disk probe timed out"),
        "ConnectionResetError": lambda: ConnectionResetError(104, "Connection reset by peer"),
        "httpx.ConnectError": lambda: httpx.ConnectError("handshake failed", request=request),
        "httpx.ReadTimeout": lambda: httpx.ReadTimeout("slow", request=request),
        "openai.APIConnectionError": lambda: openai.APIConnectionError(request=request),
        "openai.APITimeoutError": lambda: openai.APITimeoutError(request=request),
        "503": lambda: _status_errors(["503"])["503"],
        "429": lambda: _status_errors(["429"])["429"],
    }[name]()


def _permanent_maker(name: str, request: httpx.Request) -> BaseException:
    return {
        "ssl.SSLError": lambda: ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] "
                                                "certificate verify failed"),
        "PermissionError": lambda: PermissionError(13, "Permission denied", "/run/agent.sock"),
        "OSError": lambda: OSError(5, "Input/output error"),
        "FileNotFoundError": lambda: FileNotFoundError(2, "No such file", "/etc/ca.pem"),
        "ValueError": lambda: ValueError("invalid proxy URL"),
        "KeyError": lambda: KeyError("OPENAI_BASE_URL"),
        "400": lambda: _status_errors(["400"])["400"],
        "404": lambda: _status_errors(["404"])["404"],
    }[name]()


TRANSIENT_MAKERS = ("ConnectionError", "TimeoutError", "ConnectionResetError",
                    "httpx.ConnectError", "httpx.ReadTimeout", "openai.APIConnectionError",
                    "openai.APITimeoutError", "503", "429")
PERMANENT_MAKERS = ("ssl.SSLError", "PermissionError", "OSError", "FileNotFoundError",
                    "ValueError", "KeyError", "400", "404")
#: The seed the linked errors are paired from.
LINKED_SEED = 20260303


@dataclass(frozen=True)
class Linked:
    """An error linked to another of the other kind, as ``raise error from other``
    (``link`` is ``"from"``) or as raised while ``other`` was being handled
    (``"during"``): ``transient`` says what ``error`` itself is by the contract."""

    error: str
    other: str
    link: str
    transient: bool

    @property
    def name(self) -> str:
        return f"{self.error} {self.link} {self.other}"

    def make(self, request: httpx.Request) -> BaseException:
        own, other = (_transient_maker, _permanent_maker) if self.transient else \
            (_permanent_maker, _transient_maker)
        error, linked = own(self.error, request), other(self.other, request)
        if self.link == "from":
            return raised_from(error, linked)
        try:
            try:
                raise linked
            except BaseException:  # noqa: BLE001 - raised while handling it: __context__
                raise error  # noqa: B904 - the implicit link is the point
        except BaseException as raised:  # noqa: BLE001 - it is the one raised just above
            return raised


def linked_errors() -> list[Linked]:
    """Every transient kind linked to two permanent errors and every permanent kind to two
    transient ones, each by ``from`` or while handling, paired from :data:`LINKED_SEED`."""
    rng = random.Random(LINKED_SEED)
    links = []
    for transient, own, others in ((True, TRANSIENT_MAKERS, PERMANENT_MAKERS),
                                   (False, PERMANENT_MAKERS, TRANSIENT_MAKERS)):
        for error in own:
            for other in rng.sample(others, 2):
                links.append(Linked(error, other, rng.choice(("from", "during")), transient))
    return links


@SCENARIOS.scenario
def linked(lab: ModuleType) -> dict[str, Any]:
    """``retry_call`` over a function whose first call raises a linked error (see
    :func:`linked_errors`), then returns 42: a transient one is retried, a permanent one
    raised as it is, whatever it is linked to."""
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    return {link.name: _run_call(lab, [_raise(link.make(request)), lambda: 42], QUICK)
            for link in linked_errors()}


@SCENARIOS.scenario
def transient_kinds(lab: ModuleType) -> dict[str, Any]:
    """Each kind of failure once, then a success, through the wrapper (a 429 and a 503 also
    with the server's own ``x-should-retry: false``, a header the contract ignores); two in
    a row; and a plain function's built-in network errors through ``retry_call``."""
    seen = {
        kind: _run_llm(lab, script_steps([Attempt(kind), Attempt("ok")], 3), QUICK)
        for kind in TRANSIENT_KINDS + PERMANENT_KINDS
    }
    seen.update({
        f"{status}-{NOISE}": _run_llm(
            lab, [failure(int(status), headers={NOISE: "false"}), reply(SUCCESS)], QUICK)
        for status in ("429", "503")
    })
    seen.update({
        f"{status}-{code}": _run_llm(lab, [failure(int(status), code=code), reply(SUCCESS)],
                                     QUICK)
        for status, code in BODY_CODES
    })
    seen["after_give_ups"] = _after_give_ups(lab)
    seen.update({
        f"{status}-{name}": _run_llm(lab, [failure(int(status), body=body), reply(SUCCESS)],
                                     QUICK)
        for status, name, body in RAW_BODIES
    })
    seen["falsy_results"] = {
        repr(value): _run_call(lab, [lambda value=value: value, lambda: "asked again"], QUICK)
        for value in FALSY_RESULTS
    }
    seen["two_in_a_row"] = _run_llm(
        lab, [failure(503), failure(429), reply(SUCCESS)], {"max_attempts": 4}
    )
    seen["plain_function"] = _run_call(
        lab,
        [_raise(TimeoutError("slow disk")), _raise(ConnectionError("reset")), lambda: 42],
        QUICK,
    )
    return seen


#: Transient statuses with the ``code`` OpenAI's error body gives them, which the contract
#: does not look at: the status alone says a failure is transient.
BODY_CODES = (("429", "insufficient_quota"), ("429", "rate_limit_exceeded"),
              ("500", "server_error"), ("503", "engine_overloaded"))
#: Transient failures whose body is not OpenAI's JSON: a proxy's HTML page, nothing at all.
RAW_BODIES = (("502", "html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
              ("503", "empty", ""))
#: Results a function may succeed with that look like nothing: each is the result.
FALSY_RESULTS = (0, None, "", [], False)
#: The calls one wrapper makes in ``after_give_ups``: the failures of each, then whether
#: it ends in a success.
GIVE_UP_CALLS = ((("503", "429", "502"), False), (("500", "timeout", "503"), False),
                 (("429", "503", "connect"), False), (("503", "502"), True), (("429",), True))


def _after_give_ups(lab: ModuleType) -> dict[str, Any]:
    """One wrapper (max_attempts=3) making the calls of :data:`GIVE_UP_CALLS` in a row:
    three that give up, then two whose success the limit allows. Each call is as good as
    the first: what earlier calls went through does not shorten a later one's retries."""
    script: list[Step] = []
    for failures, succeeds in GIVE_UP_CALLS:
        script += [_step(Attempt(kind), TOO_LATE) for kind in failures]
        if succeeds:
            script.append(reply(SUCCESS))
    with _run(script) as (llm, clock, waits):
        wrapper = lab.RetryingLLM(llm.client(max_retries=0), policy=lab.RetryPolicy(**QUICK),
                                  sleep=waits.sleep)
        calls, made = [], []
        for _call in GIVE_UP_CALLS:
            before = waits.requests()
            calls.append(outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                                 describe=lambda e: _raised(e, lab)))
            made.append(waits.requests() - before)
        return _observed({"calls": calls, "made": made}, llm, clock, waits)


@SCENARIOS.scenario
def same_request(lab: ModuleType) -> dict[str, Any]:
    """Messages handed over as a one-shot iterator, a 503, then a success: what each
    attempt sent."""
    with _run([failure(503), reply(SUCCESS)]) as (llm, clock, waits):
        client = llm.client(max_retries=0)
        seen = outcome(
            lambda: lab.RetryingLLM(client, policy=lab.RetryPolicy(**QUICK),
                                    sleep=waits.sleep).complete(iter(PROMPT)),
            keep=_content, describe=lambda e: _raised(e, lab))
        seen["sent"] = [plain(r.messages) for r in llm.requests if not r.client_retry]
        return _observed(seen, llm, clock, waits)


#: A tool offered with a call, to see that every attempt offers it.
RESTART_TOOL = {"type": "function", "function": {
    "name": "restart_service", "description": "Restart a service.",
    "parameters": {"type": "object", "properties": {"service": {"type": "string"}}}}}


@SCENARIOS.scenario
def same_options(lab: ModuleType) -> dict[str, Any]:
    """A call with options (a timeout, a tool), a 503, then a success: what each attempt
    carried."""
    with _run([failure(503), reply(SUCCESS)]) as (llm, clock, waits):
        client = llm.client(max_retries=0)
        seen = outcome(
            lambda: lab.RetryingLLM(client, policy=lab.RetryPolicy(**QUICK),
                                    sleep=waits.sleep).complete(PROMPT, timeout=12.5,
                                                                tools=[RESTART_TOOL]),
            keep=_content, describe=lambda e: _raised(e, lab))
        seen["carried"] = [
            {"read_timeout": plain(r.timeout.get("read")),
             "tools": plain([t.get("function", {}).get("name") for t in r.body.get("tools") or []])}
            for r in llm.requests if not r.client_retry]
        return _observed(seen, llm, clock, waits)


@SCENARIOS.scenario
def backoff_default(lab: ModuleType) -> dict[str, Any]:
    """The default policy against a server that keeps failing."""
    return _run_llm(lab, [failure(500)] * 4 + [reply(TOO_LATE)], {})


@SCENARIOS.scenario
def backoff_custom(lab: ModuleType) -> dict[str, Any]:
    """A non-default base and factor, far from any cap."""
    policy = {"max_attempts": 6, "base_delay": 0.25, "factor": 3.0, "max_delay": 1000.0}
    return _run_llm(lab, [failure(502)] * 6 + [reply(TOO_LATE)], policy)


@SCENARIOS.scenario
def server_clock(lab: ModuleType) -> dict[str, Any]:
    """A retry-after date 20 s after the process's clock from a server whose own ``date``
    header runs five minutes behind (or ahead): the date is measured against
    ``time.time()``, not the server's clock. A 429 whose message alone names a delay
    ("try again in 6.5s"): no header, so the backoff decides. The same date in HTTP's two
    other forms (RFC 850, asctime) and with a numeric zone; and delays too large for any
    clock, waited as the cap."""
    policy = {"max_attempts": 3, "base_delay": 0.5, "max_delay": 60.0}
    seen = {}
    for name, skew in (("behind", -300), ("ahead", 300)):
        headers = {"retry-after": _http_date(20),
                   "date": email.utils.format_datetime(
                       PROCESS_START + _dt.timedelta(seconds=skew), usegmt=True)}
        seen[name] = _run_llm(lab, [failure(503, headers=headers), reply(SUCCESS)], policy)
    seen["message_names_a_delay"] = _run_llm(
        lab, [failure(429, message=RATE_LIMIT_MESSAGE), reply(SUCCESS)], policy)
    seen["message_twin"] = _run_llm(lab, [failure(429), reply(SUCCESS)], policy)
    when = PROCESS_START + _dt.timedelta(seconds=20)
    for name, text in (("rfc850", when.strftime("%A, %d-%b-%y %H:%M:%S GMT")),
                       ("asctime", when.strftime("%a %b ") + f"{when.day:2d}"
                        + when.strftime(" %H:%M:%S %Y")),
                       ("numeric-zone", email.utils.format_datetime(when))):
        seen[f"date-{name}"] = {"text": text, **_run_llm(
            lab, [failure(503, headers={"retry-after": text}), reply(SUCCESS)], policy)}
    for name, headers in (("huge-seconds", {"retry-after": "300000000000"}),
                          ("huge-ms", {"retry-after-ms": "1e15"})):
        seen[name] = _run_llm(lab, [failure(503, headers=headers), reply(SUCCESS)], policy)
    return seen


#: OpenAI's wording of a rate limit, which names a delay in its text only.
RATE_LIMIT_MESSAGE = ("Rate limit reached for gpt-4o-mini in organization org-kit on requests "
                      "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 6.5s.")


@SCENARIOS.scenario
def backoff_after_resets(lab: ModuleType) -> dict[str, Any]:
    """retry_call over a function whose connection is reset or dropped three times, then
    works: each failure is waited on as any other, base * factor ** n."""
    return _run_call(lab, [_raise(ConnectionResetError(104, "Connection reset by peer")),
                           _raise(BrokenPipeError(32, "Broken pipe")),
                           _raise(ConnectionAbortedError(103, "Software caused connection abort")),
                           lambda: 42], {"max_attempts": 5, "base_delay": 0.5, "factor": 3.0})


class _ErrorWithResponse(Exception):
    """An error of the caller's own that carries the response it failed on."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__("the release API refused")
        self.response = response


@SCENARIOS.scenario
def other_errors_delay(lab: ModuleType) -> dict[str, Any]:
    """``server_delay`` of errors that are not openai's but carry a response: an
    ``httpx.HTTPStatusError`` and an error of the caller's own, each asking for 7 s."""
    request = httpx.Request("GET", "https://deploy.internal/api/releases")
    response = httpx.Response(503, headers={"retry-after": "7"}, request=request)
    return {
        "httpx": outcome(lambda: plain(lab.server_delay(httpx.HTTPStatusError(
            "503 from the release API", request=request, response=response)))),
        "own": outcome(lambda: plain(lab.server_delay(_ErrorWithResponse(response)))),
    }


@SCENARIOS.scenario
def backoff_with_rng(lab: ModuleType) -> dict[str, Any]:
    """The same, jitter off, with a seeded rng handed over all the same: it is for jitter."""
    policy = {"max_attempts": 6, "base_delay": 0.25, "factor": 3.0, "max_delay": 1000.0}
    return _run_llm(lab, [failure(502)] * 6 + [reply(TOO_LATE)], policy,
                    rng=random.Random(11))


@SCENARIOS.scenario
def give_up(lab: ModuleType) -> dict[str, Any]:
    """Every attempt fails: the attempts used, the error raised, the time spent."""
    return {
        "five": _run_llm(
            lab,
            [failure(500), failure(502), failure(504), failure(500), failure(503),
             reply(TOO_LATE)],
            {"max_attempts": 5, "base_delay": 0.5},
        ),
        "one": _run_llm(lab, [failure(429), reply(TOO_LATE)], {"max_attempts": 1}),
        "html": _run_llm(lab, [failure(502, body=RAW_BODIES[0][2])] * 3 + [reply(TOO_LATE)],
                         {"max_attempts": 3, "base_delay": 0.5}),
        "limit_before_success": _run_llm(
            lab, [failure(500)] * 3 + [reply(TOO_LATE)], {"max_attempts": 3, "base_delay": 2.0}
        ),
        "plain_function": _run_call(
            lab, [_raise(TimeoutError("slow")), _raise(TimeoutError("still slow")),
                  lambda: "late"],
            {"max_attempts": 2},
        ),
    }


#: Permanent statuses whose body carries a code that sounds transient: the status decides.
PERMANENT_BODY_CODES = (("400", "server_error"), ("403", "rate_limit_exceeded"),
                        ("422", "overloaded"), ("400", "context_length_exceeded"))


@SCENARIOS.scenario
def permanent(lab: ModuleType) -> dict[str, Any]:
    """Errors no retry can cure, from the server and from the code itself, and Ctrl-C."""
    seen = {
        status: _run_llm(lab, [failure(int(status)), reply("should not be asked")], QUICK)
        for status in PERMANENT_KINDS
    }
    seen.update({
        f"{status}-asks-to-wait": _run_llm(
            lab, [failure(int(status), retry_after=2), reply("should not be asked")], QUICK)
        for status in ("400", "403")
    })
    seen.update({
        f"{status}-{NOISE}": _run_llm(
            lab, [failure(int(status), headers={NOISE: "true"}), reply("should not be asked")],
            QUICK)
        for status in PERMANENT_KINDS
    })
    seen["value_error"] = _run_call(
        lab, [_raise(ValueError("negative disk size")), lambda: "no"], QUICK
    )
    seen["key_error"] = _run_call(lab, [_raise(KeyError("service")), lambda: "no"], QUICK)
    seen["http_status_error"] = _run_call(lab, [_raise(_http_status_error(404)), lambda: "no"],
                                          QUICK)
    seen["http_status_error_503"] = _run_call(lab, [_raise(_http_status_error(503)),
                                                    lambda: "no"], QUICK)
    seen["message_says_timeout"] = _run_call(
        lab, [_raise(ValueError("timeout must be positive")), lambda: "no"], QUICK)
    seen["caused_by_a_timeout"] = _run_call(lab, [lambda: _raise(_caused_by_a_timeout())(),
                                                  lambda: "no"], QUICK)
    seen["malformed_json"] = _run_call(lab, [_raise(json.JSONDecodeError("Expecting value",
                                                                         "{oops", 1)),
                                             lambda: "no"], QUICK)
    seen["file_not_found"] = _run_call(
        lab, [_raise(FileNotFoundError(2, "No such file", "/etc/deploy.yml")), lambda: "no"], QUICK)
    seen["keyboard_interrupt"] = _run_call(lab, [_raise(KeyboardInterrupt()), lambda: "no"],
                                           QUICK)
    seen.update({
        f"{status}-{code}": _run_llm(lab, [failure(int(status), code=code),
                                           reply("should not be asked")], QUICK)
        for status, code in PERMANENT_BODY_CODES
    })
    # a permanent error raised from another one: raised as it is, its cause kept
    seen["with_a_cause"] = _run_call(lab, [_raise(raised_from(
        ValueError("the deploy spec has no replicas"), KeyError("replicas"))), lambda: "no"],
        QUICK)
    seen["last_attempt"] = {
        "only": _run_llm(lab, [failure(401), reply("should not be asked")], {"max_attempts": 1}),
        "third": _run_llm(lab, [failure(503), failure(503), failure(404), reply("no")],
                          {"max_attempts": 3, "base_delay": 0.5}),
        "plain_function": _run_call(lab, [_raise(ConnectionError("reset")),
                                          _raise(ValueError("bad size")), lambda: "no"],
                                    {"max_attempts": 2}),
    }
    return seen


@SCENARIOS.scenario
def generated(lab: ModuleType) -> dict[str, Any]:
    """Every generated case, the twin of each one whose server sends headers, and
    ``backoff_delay`` asked directly for every retry of its policy."""
    seen = {}
    for case in generated_cases():
        seen[case.name] = run_case(lab, case)
        if case.has_headers or case.has_noise:
            seen[f"{case.name}-twin"] = run_case(lab, case.twin())
        policy = lab.RetryPolicy(**case.settings)
        seen[f"{case.name}-backoff"] = [
            outcome(lambda n=n: plain(lab.backoff_delay(n, policy, random.Random(n))))
            for n in range(case.settings["max_attempts"])]
    return seen


@SCENARIOS.scenario
def jitter(lab: ModuleType) -> dict[str, Any]:
    """Jittered cases with their seeded rngs, each with its twin without jitter (and
    without headers); the same seed twice with the global random module disturbed in
    between; and a jittered policy without an rng, drawing from the seeded random module."""
    seen = {}
    for case in jitter_cases():
        seen[case.name] = run_case(lab, case)
        seen[f"{case.name}-twin"] = run_case(lab, backoff_twin(case))
    first = jitter_cases()[0]
    random.seed(99)
    seen["again"] = run_case(lab, first)
    seen["two_calls"] = _two_calls(lab, first)
    seen["two_calls_twin"] = _two_calls(lab, backoff_twin(first))
    random.seed(GLOBAL_SEED)
    seen["global"] = run_case(lab, replace(first, seed=None))
    return seen


def _two_calls(lab: ModuleType, case: Case) -> dict[str, Any]:
    """One wrapper, one rng, two calls of ``case``'s script in a row: the second call's
    waits go on drawing from the same rng."""
    limit = case.settings["max_attempts"]
    failures = [_step(attempt, TOO_LATE) for attempt in case.script[:limit]]
    with _run(failures + failures + [reply(TOO_LATE)]) as (llm, clock, waits):
        wrapper = lab.RetryingLLM(llm.client(max_retries=0), policy=lab.RetryPolicy(
            **case.settings), sleep=waits.sleep,
            rng=None if case.seed is None else random.Random(case.seed))
        first = outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                        describe=lambda e: _raised(e, lab))
        between = waits.requests()
        second = outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                         describe=lambda e: _raised(e, lab))
        seen = {"calls": [first, second], "first_call_requests": between}
        return _observed(seen, llm, clock, waits)


def _after_a_zero_draw(lab: ModuleType) -> dict[str, list[float]]:
    """Two jittered backoff_delay calls on one rng, the first with a capped backoff of 0
    (base 0): one draw per call, so the second is the rng's second draw. With each
    policy's wait without jitter (the submission's own capped backoff)."""
    rng = random.Random(21)
    policies = [lab.RetryPolicy(base_delay=base, max_delay=10.0, jitter=True)
                for base in (0.0, 1.0)]
    return {"draws": [lab.backoff_delay(0, policy, rng) for policy in policies],
            "capped": [lab.backoff_delay(0, replace(policy, jitter=False))
                       for policy in policies]}


#: The seed the random module is given before a jittered run without an rng.
GLOBAL_SEED = 4242


#: Retry numbers far out with a factor near 1: ``(retry, factor)``.
SLOW_GROWTH = ((65, 1.0), (70, 1.05), (300, 1.01), (1000, 1.0))


@SCENARIOS.scenario
def huge_retry(lab: ModuleType) -> dict[str, Any]:
    """``backoff_delay`` for retry numbers far past any float's range."""
    plain_policy = lab.RetryPolicy(max_attempts=5, base_delay=1.0, factor=2.0, max_delay=45.0)
    jittered = lab.RetryPolicy(max_attempts=5, base_delay=1.0, factor=2.0, max_delay=45.0,
                               jitter=True)
    int_factor = lab.RetryPolicy(max_attempts=5, base_delay=1.0, factor=2, max_delay=45.0)
    return {
        "plain": outcome(lambda: plain(lab.backoff_delay(5000, plain_policy))),
        "far": outcome(lambda: plain(lab.backoff_delay(200, plain_policy))),
        "int_factor": outcome(lambda: plain(lab.backoff_delay(5000, int_factor))),
        "jittered": outcome(lambda: plain(lab.backoff_delay(5000, jittered,
                                                            random.Random(7)))),
        "after_a_zero_draw": outcome(lambda: plain(_after_a_zero_draw(lab))),
        "zero_base": outcome(lambda: plain(lab.backoff_delay(
            5000, lab.RetryPolicy(base_delay=0.0, max_delay=45.0)))),
        "slow_growth": {str(retry): outcome(lambda r=retry, f=factor: plain(lab.backoff_delay(
            r, lab.RetryPolicy(base_delay=1.0, factor=f, max_delay=45.0))))
            for retry, factor in SLOW_GROWTH},
    }


#: The scripts and policies of the single-layer scenario, and the client options tried.
LAYER_POLICIES = ({"max_attempts": 3, "base_delay": 0.5}, {"max_attempts": 1},
                  {"max_attempts": 2, "base_delay": 0.25})
LAYER_CLIENTS = {"default": {}, "five": {"max_retries": 5}}


@SCENARIOS.scenario
def single_layer(lab: ModuleType) -> dict[str, Any]:
    """A failing server, through clients left with retries of their own (the default, 2,
    and 5), with and without a per-call option: whether the client sent any request again
    by itself, and whether the caller's client was changed; and whether the caller's client
    still works once a wrapper built on it is gone."""
    seen = {}
    for index, policy in enumerate(LAYER_POLICIES):
        for name, options in LAYER_CLIENTS.items():
            for call, extra in (("plain", {}), ("timeout", {"timeout": 30.0})):
                seen[f"{index}-{name}-{call}"] = _layer_run(lab, policy, options, extra)
    seen["caller_after"] = _caller_after_the_wrapper(lab)
    seen["changed_later"] = _caller_changes_its_client(lab)
    for name, options in LAYER_CLIENTS.items():
        for order in USED_ORDERS:
            seen[f"used-{order}-{name}"] = _used_client(lab, options, order)
    return seen


#: When the caller makes a request of its own through the client it hands over: before
#: the wrapper is built, or after it is built and before its call.
USED_ORDERS = ("before", "between")


def _used_client(lab: ModuleType, options: dict[str, Any], order: str) -> dict[str, Any]:
    """A client the caller uses itself (one request, answered) ``order`` building the
    wrapper, then the wrapper's call against a failing server: whether the client sent
    any of the wrapper's requests again by itself."""
    with _run([reply("the caller's own")] + [failure(500)] * 12) as (llm, clock, waits):
        client = llm.client(**options)
        policy = lab.RetryPolicy(max_attempts=3, base_delay=0.5)

        def caller() -> Any:
            return client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)

        seen: dict[str, Any] = {}
        if order == "before":
            seen["caller"] = outcome(caller, keep=_content)
        wrapper = lab.RetryingLLM(client, policy=policy, sleep=waits.sleep)
        if order == "between":
            seen["caller"] = outcome(caller, keep=_content)
        seen.update(outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                            describe=lambda e: _raised(e, lab)))
        seen["caller_retries"] = {"before": plain(options.get("max_retries", 2)),
                                  "after": plain(client.max_retries)}
        return _observed(seen, llm, clock, waits)


def _caller_changes_its_client(lab: ModuleType) -> dict[str, Any]:
    """A client handed over with its retries already off, which the caller then sets to
    retry twice: the wrapper's copy is its own, so its attempts stay single requests."""
    with _run([failure(500)] * 12) as (llm, clock, waits):
        client = llm.client(max_retries=0)
        wrapper = lab.RetryingLLM(client, policy=lab.RetryPolicy(max_attempts=3,
                                                                  base_delay=0.5),
                                  sleep=waits.sleep)
        client.max_retries = 2  # the caller's own client, its own business
        seen = outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                       describe=lambda e: _raised(e, lab))
        return _observed(seen, llm, clock, waits)


def _caller_after_the_wrapper(lab: ModuleType) -> dict[str, Any]:
    """A wrapper answers once and is dropped (and collected); then the caller's own
    request through the client it handed over."""
    with _run([reply(SUCCESS), reply("the caller's own")]) as (llm, clock, waits):
        client = llm.client()

        def through_a_wrapper() -> Any:
            wrapper = lab.RetryingLLM(client, policy=lab.RetryPolicy(**QUICK), sleep=waits.sleep)
            return wrapper.complete(PROMPT)

        seen = {"wrapper": outcome(through_a_wrapper, keep=_content,
                                   describe=lambda e: _raised(e, lab))}
        gc.collect()
        seen["caller"] = outcome(
            lambda: client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT),
            keep=_content, describe=lambda e: _raised(e, lab))
        return seen


def _layer_run(lab: ModuleType, policy: dict[str, Any], options: dict[str, Any],
               extra: dict[str, Any]) -> dict[str, Any]:
    with _run([failure(500)] * 24) as (llm, clock, waits):
        client = llm.client(**options)
        before = client.max_retries
        during: list[Any] = []

        def sleep(seconds: float) -> None:
            during.append(plain(client.max_retries))  # the caller's client, mid-call
            waits.sleep(seconds)

        def complete() -> Any:
            wrapper = lab.RetryingLLM(client, policy=lab.RetryPolicy(**policy), sleep=sleep)
            return wrapper.complete(PROMPT, **extra)

        seen = outcome(complete, keep=_content, describe=lambda e: _raised(e, lab))
        seen["caller_client"] = {"before": plain(before), "after": plain(client.max_retries),
                                 "during": sorted(set(map(str, during)))}
        return _observed(seen, llm, clock, waits)


# -- round 10: per-call timeouts, large limits, long conversations, linked delays, one rng --


#: The seed the cases with a per-call ``timeout`` option come from.
TIMEOUT_SEED = 20260404


@dataclass(frozen=True)
class TimedCase:
    """A case sent as ``complete(messages, timeout=timeout)``: the request's own timeout,
    which has no say in the waits between attempts."""

    case: Case
    timeout: float


def timeout_cases() -> list[TimedCase]:
    """Policies whose backoff grows past a per-call timeout (below ``max_delay``), the
    failures header-free (``backoff-*``) or asking for delays longer than that timeout
    (``asks-*``), then a success the limit allows."""
    rng = random.Random(TIMEOUT_SEED)
    cases = []
    for number in range(8):
        limit = rng.randint(4, 6)
        policy = {"max_attempts": limit, "base_delay": rng.choice((0.5, 1.0, 2.0)),
                  "factor": rng.choice((2.0, 3.0)), "max_delay": rng.choice((20.0, 45.0, 90.0)),
                  "jitter": False}
        timeout = rng.choice((1, 2.5, 3.0, 4, 7.5))
        asks = number % 2 == 1
        script = []
        for _ in range(rng.randint(2, limit - 1)):
            status = rng.choice(("429", "500", "502", "503", "504"))
            if asks and rng.random() < 0.7:
                delay = rng.choice((int(timeout) + rng.randint(1, 9),
                                    int(policy["max_delay"]) + 30))
                header = rng.choice(("retry-after", "retry-after-ms"))
                text = str(delay) if header == "retry-after" else str(delay * 1000)
                script.append(Attempt(status, (Header(header, text, float(delay)),)))
            else:
                script.append(Attempt(status))
        name = f"{'asks' if asks else 'backoff'}-{number + 1}"
        cases.append(TimedCase(Case(name, tuple(policy.items()), (*script, Attempt("ok"))),
                               timeout))
    return cases


@SCENARIOS.scenario
def call_timeout(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`timeout_cases` through ``complete(PROMPT, timeout=...)``."""
    return {timed.case.name: _run_llm(
        lab, script_steps(timed.case.script, timed.case.settings["max_attempts"]),
        timed.case.settings, call_options={"timeout": timed.timeout})
        for timed in timeout_cases()}


#: Limits past the ints CPython caches (up to 256), and the two at its edge.
LARGE_LIMITS = (255, 256, 257, 300, 1000)
#: The policy of the large-limit runs, but for ``max_attempts``: each wait 0.5 s.
LARGE_POLICY = {"base_delay": 0.5, "factor": 1.0, "max_delay": 0.5}
#: A limit drawn past the cached ints, for the run through ``RetryingLLM``.
LARGE_LLM_LIMIT = random.Random(20260505).randint(257, 320)


@SCENARIOS.scenario
def large_limits(lab: ModuleType) -> dict[str, Any]:
    """Every attempt fails, under limits of :data:`LARGE_LIMITS` attempts (``retry_call``,
    each failure a fresh ``ConnectionError``) and of :data:`LARGE_LLM_LIMIT` (through
    ``RetryingLLM``, 503s): the attempts made, the waits, and the error given up with,
    ``last_is_final`` saying whether its ``last_error`` is the final call's very error."""
    seen: dict[str, Any] = {}
    for limit in LARGE_LIMITS:
        raised: list[BaseException] = []

        def fail() -> Any:
            raised.append(ConnectionError(f"connection reset, attempt {len(raised) + 1}"))
            raise raised[-1]

        seen[str(limit)] = _run_call(
            lab, [fail], {"max_attempts": limit, **LARGE_POLICY},
            final=lambda: raised[-1] if raised else None)
    steps = [failure(503)] * LARGE_LLM_LIMIT + [reply(TOO_LATE)]
    seen["llm"] = _run_llm(lab, steps, {"max_attempts": LARGE_LLM_LIMIT, **LARGE_POLICY})
    return seen


#: The seed the long conversations come from.
CONVERSATION_SEED = 20260606
#: Turns a long conversation is made of, after its system prompt.
_TURNS = ("Disk is full on web-1.", "Checking: /var/log holds 38 GB.", "Clean the old logs.",
          "Rotated and removed 30 GB of logs.", "Now check web-2 too.",
          "web-2 is at 91 percent.", "Sort it out the same way.")


@dataclass(frozen=True)
class Conversation:
    """A case sent with ``size`` messages (a system prompt first): its script is
    transient failures, then a permanent 4xx whose body carries ``code``, then more."""

    case: Case
    size: int
    code: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        roles = ("user", "assistant")
        return [{"role": "system", "content": "You are the on-call DevOps agent."}] + [
            {"role": roles[n % 2], "content": _TURNS[n % len(_TURNS)]}
            for n in range(self.size - 1)]


def conversation_cases() -> list[Conversation]:
    """Conversations of 2 to 8 messages whose request ends in a permanent error after
    up to two transient failures, with attempts left: mostly a 400 of
    ``context_length_exceeded`` (the conversation outgrew the model), now and then another
    400 or a 422."""
    rng = random.Random(CONVERSATION_SEED)
    cases = []
    for number in range(10):
        before = rng.randint(0, 2)
        limit = rng.randint(before + 2, before + 4)
        status, code = ("400", "context_length_exceeded") if number % 4 != 3 else \
            rng.choice((("400", "invalid_request_error"), ("422", "context_length_exceeded")))
        script = (*(Attempt(rng.choice(("429", "500", "503", "timeout")))
                    for _ in range(before)),
                  Attempt(status), Attempt("ok"))
        policy = {"max_attempts": limit, "base_delay": rng.choice((0.25, 0.5, 1.0)),
                  "factor": 2.0, "max_delay": 30.0, "jitter": False}
        cases.append(Conversation(Case(f"conversation-{number + 1}", tuple(policy.items()),
                                       script), rng.randint(2, 8), code))
    return cases


@SCENARIOS.scenario
def long_conversations(lab: ModuleType) -> dict[str, Any]:
    """Every conversation of :func:`conversation_cases` through ``RetryingLLM.complete``:
    what the server saw (each request's number of messages too) and how the call ended."""
    seen = {}
    for conversation in conversation_cases():
        case = conversation.case
        steps = []
        for attempt in case.script:
            if attempt.kind == "ok":
                steps.append(reply("should not be asked"))
            elif attempt.kind.isdigit() and int(attempt.kind) < 500 and attempt.kind != "429":
                steps.append(failure(int(attempt.kind), code=conversation.code,
                                     message="This model's maximum context length is 128000 "
                                             "tokens."))
            else:
                steps.append(_step(attempt, TOO_LATE))
        with _run(steps + [reply(TOO_LATE)]) as (llm, clock, waits):
            client = llm.client(max_retries=0)
            run = outcome(lambda: lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**case.settings), sleep=waits.sleep
            ).complete(conversation.messages), keep=_content, describe=lambda e: _raised(e, lab))
            run["sizes"] = [len(r.messages) for r in llm.requests if not r.client_retry]
            seen[case.name] = _observed(run, llm, clock, waits)
    return seen


#: The seed the delays carried by a linked error come from.
LINKED_DELAY_SEED = 20260707
#: Errors of a tool's own that wrap an HTTP failure: what they are made of.
WRAPPERS = ("TimeoutError", "ConnectionError", "RuntimeError")
CARRIERS = ("openai.RateLimitError", "httpx.HTTPStatusError", "own error with .response")


@dataclass(frozen=True)
class CarriedDelay:
    """A ``wrapper`` error without a response of its own, linked (``from``, or raised
    while handling it) to a ``carrier`` whose response asks for a delay in ``header``."""

    wrapper: str
    carrier: str
    header: Header
    link: str

    @property
    def name(self) -> str:
        return (f"{self.wrapper} {self.link} {self.carrier} "
                f"({self.header.name}: {self.header.text})")


def carried_delays() -> list[CarriedDelay]:
    """Every wrapper with every carrier, the delay and the link drawn."""
    rng = random.Random(LINKED_DELAY_SEED)
    delays = []
    for wrapper in WRAPPERS:
        for carrier in CARRIERS:
            seconds = rng.choice((3, 7, 12, 40))
            header = rng.choice((Header("retry-after", str(seconds), float(seconds)),
                                 Header("retry-after-ms", str(seconds * 1000), float(seconds))))
            delays.append(CarriedDelay(wrapper, carrier, header, rng.choice(("from", "during"))))
    return delays


def _carrier(kind: str, header: Header) -> BaseException:
    headers = {header.name: header.text}
    if kind == "openai.RateLimitError":
        with FakeLLM([failure(429, headers=headers)]) as llm:
            try:
                llm.client(max_retries=0).chat.completions.create(model="gpt-4o-mini",
                                                                   messages=PROMPT)
            except openai.APIStatusError as error:
                return error
        raise AssertionError("the fake answered a scripted 429 with a success")
    request = httpx.Request("GET", "https://deploy.internal/api/releases")
    response = httpx.Response(429 if kind == "httpx.HTTPStatusError" else 503,
                              headers=headers, request=request)
    if kind == "httpx.HTTPStatusError":
        return httpx.HTTPStatusError("429 from the release API", request=request,
                                     response=response)
    return _ErrorWithResponse(response)


def _carried(delay: CarriedDelay) -> BaseException:
    """The wrapper error, made fresh and linked to its carrier."""
    wrapper = _unlinked(delay)
    carrier = _carrier(delay.carrier, delay.header)
    if delay.link == "from":
        return raised_from(wrapper, carrier)
    try:
        try:
            raise carrier
        except BaseException:  # noqa: BLE001 - raised while handling it: __context__
            raise wrapper  # noqa: B904 - the implicit link is the point
    except BaseException as raised:  # noqa: BLE001 - it is the one raised just above
        return raised


#: The policy of the runs over wrapped errors: waits of 0.5 s, then 1 s.
CARRIED_POLICY = {"max_attempts": 3, "base_delay": 0.5, "factor": 2.0, "max_delay": 60.0}


@SCENARIOS.scenario
def carried_delay(lab: ModuleType) -> dict[str, Any]:
    """``server_delay`` of each error of :func:`carried_delays` (no response of its own);
    ``retry_call`` over a function raising two of the transient ones, then returning 42,
    and its twin raising errors of the same types, in the same order, unlinked."""
    seen: dict[str, Any] = {"direct": {
        delay.name: outcome(lambda delay=delay: plain(lab.server_delay(_carried(delay))))
        for delay in carried_delays()}}
    for number, (one, two) in enumerate(carried_runs()):
        seen[f"run-{number + 1}"] = _run_call(
            lab, [lambda one=one: _raise(_carried(one))(),
                  lambda two=two: _raise(_carried(two))(), lambda: 42], CARRIED_POLICY)
        seen[f"run-{number + 1}-twin"] = _run_call(
            lab, [lambda one=one: _raise(_unlinked(one))(),
                  lambda two=two: _raise(_unlinked(two))(), lambda: 42], CARRIED_POLICY)
    return seen


def _unlinked(delay: CarriedDelay) -> BaseException:
    """The wrapper error alone, linked to nothing."""
    return {"TimeoutError": TimeoutError, "ConnectionError": ConnectionError,
            "RuntimeError": RuntimeError}[delay.wrapper]("the release tool failed")


def carried_runs() -> list[tuple[CarriedDelay, CarriedDelay]]:
    """The pairs of errors each ``run-N`` of :func:`carried_delay` raises, in order."""
    transient = [d for d in carried_delays() if d.wrapper != "RuntimeError"]
    return list(zip(transient[::2], transient[1::2]))


#: The seed the calls sharing one rng come from.
SHARED_SEED = 20260808


@dataclass(frozen=True)
class SharedRng:
    """Several calls in a row on one seeded rng (``via`` one ``RetryingLLM``, or
    ``retry_call`` handed the same rng each time), each call's script given: transient
    failures, then ``ok``, a permanent error, or nothing more (it gives up at the limit)."""

    name: str
    via: str
    policy: tuple[tuple[str, Any], ...]
    calls: tuple[tuple[Attempt, ...], ...]
    seed: int

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.policy)


def shared_rng_cases() -> list[SharedRng]:
    """Jittered policies, three to five calls each: the first ends early by a success,
    then one by a permanent error and one by giving up (in either order), then more."""
    rng = random.Random(SHARED_SEED)
    cases = []
    for number in range(8):
        limit = rng.randint(3, 6)
        policy = {"max_attempts": limit, "base_delay": rng.choice((0.5, 1.0, 2.0)),
                  "factor": rng.choice((1.5, 2.0, 3.0)), "max_delay": rng.choice((5.0, 30.0)),
                  "jitter": True}
        endings = ["ok", *rng.sample(("permanent", "give-up"), 2),
                   *rng.choices(("ok", "permanent", "give-up"), k=rng.randint(0, 2))]
        calls = []
        for index, ending in enumerate(endings):
            if ending == "give-up":
                failures = limit
            else:
                failures = rng.randint(1 if index == 0 else 0, limit - 2 if index == 0
                                       else limit - 1)
            script = [Attempt(rng.choice(("429", "500", "503", "timeout", "connect")))
                      for _ in range(failures)]
            if ending != "give-up":
                script.append(Attempt("ok" if ending == "ok" else rng.choice(("400", "404"))))
            calls.append(tuple(script))
        cases.append(SharedRng(f"shared-{number + 1}", "llm" if number % 2 == 0 else "call",
                               tuple(policy.items()), tuple(calls), rng.randint(1, 10**6)))
    return cases


def shared_twin(case: SharedRng) -> SharedRng:
    """The same calls without jitter and without an rng: the submission's own backoff."""
    return replace(case, name=f"{case.name}-twin",
                   policy=tuple({**case.settings, "jitter": False}.items()), seed=0)


def _run_shared(lab: ModuleType, case: SharedRng, *, rng: random.Random | None
                ) -> dict[str, Any]:
    """The calls of ``case`` in a row, sharing ``rng``: each call's ending and requests,
    and every wait (``[requests so far, seconds, via]`` over all the calls)."""
    policy = lab.RetryPolicy(**case.settings)
    ends, made = [], []
    if case.via == "llm":
        steps = [_step(attempt, SUCCESS) for call in case.calls for attempt in call]
        with _run(steps + [reply(TOO_LATE)]) as (llm, clock, waits):
            wrapper = required(lambda: lab.RetryingLLM(
                llm.client(max_retries=0), policy=policy, sleep=waits.sleep, rng=rng))
            for _call in case.calls:
                before = waits.requests()
                ends.append(outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                                    describe=lambda e: _raised(e, lab)))
                made.append(waits.requests() - before)
            return _observed({"calls": ends, "made": made}, llm, clock, waits)
    effects: list[Callable[[], Any]] = []
    for call in case.calls:
        for attempt in call:
            if attempt.kind == "ok":
                effects.append(lambda: SUCCESS)
            elif attempt.kind in PERMANENT_KINDS:
                effects.append(_raise(ValueError(f"bad deploy spec ({attempt.kind})")))
            else:
                effects.append(_raise(TimeoutError("slow disk") if attempt.kind == "timeout"
                                      else ConnectionError("reset")))
    effects.append(lambda: TOO_LATE)
    calls = 0

    def fn() -> Any:
        nonlocal calls
        calls += 1
        return effects[min(calls, len(effects)) - 1]()

    with FrozenClock(detached=True) as clock:
        waits = _Waits(clock, lambda: calls)
        with mock.patch("time.sleep", waits.process_sleep):
            for _call in case.calls:
                before = calls
                ends.append(outcome(lambda: lab.retry_call(fn, policy, sleep=waits.sleep,
                                                           rng=rng),
                                    describe=lambda e: _raised(e, lab)))
                made.append(calls - before)
    return {"calls": ends, "made": made, "waits": waits.seen}


@SCENARIOS.scenario
def shared_rng(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`shared_rng_cases` on its seeded rng, and its twin without
    jitter or rng."""
    seen = {}
    for case in shared_rng_cases():
        seen[case.name] = _run_shared(lab, case, rng=random.Random(case.seed))
        seen[f"{case.name}-twin"] = _run_shared(lab, shared_twin(case), rng=None)
    return seen


# -- round 11: one error object raised again, timed-out attempts under a timeout option,
# -- attempts that take time, a clock at a fractional second, giving up on a server-paced
# -- failure, an rng whose uniform is its own ------------------------------------------


#: The seed the functions raising one error object again come from.
SAME_ERROR_SEED = 20261101
#: The kinds of error raised again and again as the very same object.
SAME_ERROR_KINDS = ("TimeoutError", "ConnectionError", "ConnectionResetError",
                    "httpx.ReadTimeout", "openai.APITimeoutError")


@dataclass(frozen=True)
class SameError:
    """``retry_call`` over a function whose failures are prebuilt error objects, raised in
    the order of ``pattern`` (indexes into ``kinds``: the same index, the very same
    object), then 42; ``max_attempts`` leaves room for the success."""

    name: str
    kinds: tuple[str, ...]
    pattern: tuple[int, ...]
    max_attempts: int


def same_error_cases() -> list[SameError]:
    """One object raised two to four times in a row; two objects each raised twice; one
    coming back after another."""
    rng = random.Random(SAME_ERROR_SEED)
    cases = []
    for number in range(8):
        shape = number % 3
        kinds = tuple(rng.sample(SAME_ERROR_KINDS, 2))
        if shape == 0:
            pattern: tuple[int, ...] = (0,) * rng.randint(2, 4)
        elif shape == 1:
            pattern = (0, 0, 1, 1)
        else:
            pattern = (0, 1, 0) + (1,) * rng.randint(0, 1)
        cases.append(SameError(f"same-{number + 1}", kinds, pattern,
                               len(pattern) + 1 + rng.randint(0, 2)))
    return cases


def _prebuilt(kind: str) -> BaseException:
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    return {
        "TimeoutError": lambda: TimeoutError("the disk probe timed out"),
        "ConnectionError": lambda: ConnectionError("the tunnel to the bastion closed"),
        "ConnectionResetError": lambda: ConnectionResetError(104, "Connection reset by peer"),
        "httpx.ReadTimeout": lambda: httpx.ReadTimeout("slow", request=request),
        "openai.APITimeoutError": lambda: openai.APITimeoutError(request=request),
    }[kind]()


@SCENARIOS.scenario
def same_error(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`same_error_cases`: identity of the error object means nothing,
    each failure is retried like any other."""
    seen = {}
    for case in same_error_cases():
        errors = [_prebuilt(kind) for kind in case.kinds]
        effects = [_raise(errors[index]) for index in case.pattern] + [lambda: 42]
        seen[case.name] = _run_call(lab, effects, {"max_attempts": case.max_attempts,
                                                   "base_delay": 0.5})
    return seen


#: The seed the timed-out attempts under a timeout option come from.
TIMED_OUT_SEED = 20261102


def timed_out_cases() -> list[TimedCase]:
    """Cases sent with a ``timeout`` option whose failures include timed-out attempts
    (first, last or in between), then a success the limit allows."""
    rng = random.Random(TIMED_OUT_SEED)
    cases = []
    for number in range(8):
        limit = rng.randint(2, 6)
        policy = {"max_attempts": limit, "base_delay": rng.choice((0.25, 0.5, 1.0)),
                  "factor": rng.choice((1.5, 2.0, 3.0)), "max_delay": 30.0, "jitter": False}
        kinds = [rng.choice(("timeout", "timeout", "503", "429", "connect"))
                 for _ in range(rng.randint(1, limit - 1))]
        kinds[rng.randrange(len(kinds))] = "timeout"
        cases.append(TimedCase(Case(f"timed-out-{number + 1}", tuple(policy.items()),
                                    (*map(Attempt, kinds), Attempt("ok"))),
                               rng.choice((0.5, 2.5, 10.0, 30.0))))
    return cases


@SCENARIOS.scenario
def timed_out_with_timeout(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`timed_out_cases` through ``complete(PROMPT, timeout=...)``."""
    return {timed.case.name: _run_llm(
        lab, script_steps(timed.case.script, timed.case.settings["max_attempts"]),
        timed.case.settings, call_options={"timeout": timed.timeout})
        for timed in timed_out_cases()}


#: The seed the attempts that take time come from.
SLOW_SEED = 20261103


@dataclass(frozen=True)
class SlowCase:
    """A header-free case whose failed attempts each take ``latency[n]`` seconds on the
    clock before failing (``time.time()`` and ``time.monotonic()`` move with it)."""

    case: Case
    latency: tuple[float, ...]


def slow_cases() -> list[SlowCase]:
    """Slow failures, then a success; the later ones jittered, with a seeded rng."""
    rng = random.Random(SLOW_SEED)
    cases = []
    for number in range(8):
        jittered = number >= 4
        policy = _policy(rng, jitter=jittered)
        policy["max_attempts"] = rng.randint(3, 6)
        if jittered:  # backoffs longer than the attempts, so that each wait has a draw
            policy.update(base_delay=rng.choice((1.0, 2.0, 3.0)),
                          max_delay=rng.choice((12.0, 100.0, 1000.0)))
        kinds = [rng.choice(("500", "502", "503", "429", "connect"))
                 for _ in range(policy["max_attempts"] - 1)]
        latency = tuple(rng.choice((0.25, 0.5, 0.75) if jittered else (0.25, 0.75, 1.5, 4.0, 9.0))
                        for _ in kinds)
        cases.append(SlowCase(Case(f"slow-{number + 1}", tuple(policy.items()),
                                   (*map(Attempt, kinds), Attempt("ok")),
                                   seed=rng.randint(1, 10**6) if jittered else None),
                              latency))
    return cases


@contextmanager
def _ticking(script: Sequence[Step], start: _dt.datetime = PROCESS_START
             ) -> Iterator[tuple[FakeLLM, FrozenClock, _Waits]]:
    """:func:`_run`, with ``time.time()`` and ``time.monotonic()`` reading the run's clock
    (which starts at ``start``): a slow reply moves them, as does a wait."""
    with _run(script) as (llm, clock, waits):
        clock.start = start
        with mock.patch("time.time", clock.now), \
                mock.patch("time.monotonic", lambda: 3 * 86_400.0 + clock.elapsed()):
            yield llm, clock, waits


def _slow_steps(slow: SlowCase) -> list[Step]:
    steps = []
    for attempt, latency in zip(slow.case.script, slow.latency + (0.0,)):
        if attempt.kind == "connect":
            steps.append(connect_error(latency=latency))
        elif attempt.kind == "ok":
            steps.append(reply(SUCCESS))
        else:
            steps.append(failure(int(attempt.kind), latency=latency))
    return steps + [reply(TOO_LATE)]


def _run_slow(lab: ModuleType, slow: SlowCase, case: Case) -> dict[str, Any]:
    with _ticking(_slow_steps(slow)) as (llm, clock, waits):
        wrapper = required(lambda: lab.RetryingLLM(
            llm.client(max_retries=0), policy=lab.RetryPolicy(**case.settings),
            sleep=waits.sleep, rng=None if case.seed is None else random.Random(case.seed)))
        seen = outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                       describe=lambda e: _raised(e, lab))
        return _observed(seen, llm, clock, waits)


@SCENARIOS.scenario
def slow_attempts(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`slow_cases`, and the twin of each jittered one (no jitter, no
    rng, the same slow failures): how long an attempt took changes no wait."""
    seen = {}
    for slow in slow_cases():
        seen[slow.case.name] = _run_slow(lab, slow, slow.case)
        if slow.case.settings["jitter"]:
            twin = backoff_twin(slow.case)
            seen[twin.name] = _run_slow(lab, slow, twin)
    return seen


#: The seed the HTTP dates read on a clock at a fractional second come from.
FRACTION_SEED = 20261104


@dataclass(frozen=True)
class FractionalNow:
    """A 503 whose retry-after is an HTTP date (``form``) ``ahead`` whole seconds after
    the whole second the clock stands in, the clock ``fraction`` of a second past it."""

    name: str
    fraction: float
    ahead: int
    form: str

    @property
    def expected(self) -> float:
        """The seconds from now, on ``time.time()``, until that date."""
        return self.ahead - self.fraction


def fractional_cases() -> list[FractionalNow]:
    rng = random.Random(FRACTION_SEED)
    return [FractionalNow(f"fraction-{n + 1}", rng.choice((0.125, 0.25, 0.4, 0.6, 0.75, 0.9)),
                          rng.randint(2, 40), ("imf", "rfc850", "asctime")[n % 3])
            for n in range(6)]


def _date_text(when: _dt.datetime, form: str) -> str:
    if form == "rfc850":
        return when.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    if form == "asctime":
        return when.strftime("%a %b ") + f"{when.day:2d}" + when.strftime(" %H:%M:%S %Y")
    return email.utils.format_datetime(when, usegmt=True)


@SCENARIOS.scenario
def fractional_now(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`fractional_cases`: the 503 then a success through
    ``RetryingLLM`` (cap 60 s), and ``server_delay`` asked directly on that clock."""
    seen = {}
    for case in fractional_cases():
        start = PROCESS_START + _dt.timedelta(seconds=case.fraction)
        text = _date_text(PROCESS_START + _dt.timedelta(seconds=case.ahead), case.form)
        steps = [failure(503, headers={"retry-after": text}), reply(SUCCESS), reply(TOO_LATE)]
        with _ticking(steps, start) as (llm, clock, waits):
            wrapper = required(lambda: lab.RetryingLLM(
                llm.client(max_retries=0), policy=lab.RetryPolicy(
                    max_attempts=3, base_delay=0.5, max_delay=60.0), sleep=waits.sleep))
            run = outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                          describe=lambda e: _raised(e, lab))
            run = {"text": text, **_observed(run, llm, clock, waits)}
        request = httpx.Request("GET", "https://deploy.internal/api/releases")
        response = httpx.Response(503, headers={"retry-after": text}, request=request)
        with mock.patch("time.time", start.timestamp):
            run["direct"] = outcome(lambda: plain(lab.server_delay(_ErrorWithResponse(
                response))))
        seen[case.name] = run
    return seen


#: The final failures a give-up ends on, each asking for a delay: ``(status, header)``.
SERVER_PACED_ENDINGS = (("429", ("retry-after", "2")), ("503", ("retry-after-ms", "1500")),
                        ("429", ("retry-after", "date")), ("503", ("retry-after", "0")),
                        ("429", ("retry-after-ms", "250.5")))
#: The limits a server-paced give-up is tried under.
SERVER_PACED_LIMITS = (1, 3)


@SCENARIOS.scenario
def server_paced_give_up(lab: ModuleType) -> dict[str, Any]:
    """Every attempt fails, the final one asking for a delay (every form of
    :data:`SERVER_PACED_ENDINGS`, under each limit of :data:`SERVER_PACED_LIMITS`), the
    earlier ones 503s with or without one: what the call ended with."""
    seen = {}
    for limit in SERVER_PACED_LIMITS:
        for number, (status, (name, text)) in enumerate(SERVER_PACED_ENDINGS):
            value = _http_date(7) if text == "date" else text
            before = [failure(503, headers={"retry-after": "1"} if n % 2 else {})
                      for n in range(limit - 1)]
            steps = before + [failure(int(status), headers={name: value}), reply(TOO_LATE)]
            seen[f"{limit}-{number + 1}"] = _run_llm(
                lab, steps, {"max_attempts": limit, "base_delay": 0.5})
    return seen


#: What the rng handed over answers to ``uniform(a, b)``: this far into the range.
FIXED_POINT = 0.8125


class FixedUniform(random.Random):
    """A seeded ``Random`` whose ``uniform(a, b)`` is its own: ``a + (b - a) *``
    :data:`FIXED_POINT`, each call recorded (``random()`` and the rest are Random's)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.calls: list[list[Any]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append([plain(a), plain(b)])
        return a + (b - a) * FIXED_POINT


def _fixed_uniform(a: float, b: float) -> float:
    return a + (b - a) * FIXED_POINT


@SCENARIOS.scenario
def own_uniform(lab: ModuleType) -> dict[str, Any]:
    """Jitter through an rng whose ``uniform`` is its own (:class:`FixedUniform`): the
    header-free jittered cases through ``RetryingLLM``, ``backoff_delay`` asked directly,
    and a jittered case without an rng with ``random.uniform`` patched the same way."""
    seen: dict[str, Any] = {}
    for case in [c for c in jitter_cases() if not c.has_headers][:5]:
        rng = FixedUniform(case.seed or 0)
        run = _run_llm(lab, script_steps(case.script, case.settings["max_attempts"]),
                       case.settings, rng=rng)
        run["uniform_calls"] = rng.calls
        seen[case.name] = run
    direct = {}
    for n in range(5):
        policy = lab.RetryPolicy(base_delay=0.5, factor=3.0, max_delay=20.0, jitter=True)
        rng = FixedUniform(n)
        direct[str(n)] = {
            "jittered": outcome(lambda n=n, p=policy, r=rng: plain(lab.backoff_delay(n, p, r))),
            "capped": outcome(lambda n=n, p=policy: plain(lab.backoff_delay(
                n, replace(p, jitter=False)))),
            "uniform_calls": rng.calls}
    seen["direct"] = direct
    first = [c for c in jitter_cases() if not c.has_headers][0]
    with mock.patch("random.uniform", _fixed_uniform):
        seen["patched_module"] = run_case(lab, replace(first, seed=None))
    return seen


# -- round 12: statuses no registry lists, the same headers on every attempt, limits past
# -- the recursion limit, the very error object, HTTP dates off UTC, no draw without
# -- jitter, calls after a give-up on a client with retries of its own ----------------------


#: The seed the HTTP statuses asked about come from.
STATUS_SEED = 20261201
#: Statuses no registry (``http.HTTPStatus``, say) lists, always asked about: a proxy's,
#: nginx's, AWS's and Cloudflare's.
UNLISTED_STATUSES = (444, 460, 499, 509, 520, 522, 524, 527, 598, 599)


def status_cases() -> list[str]:
    """HTTP statuses across 400-599, registered and unregistered: drawn from where the
    registered ones are (400-431, 500-511) and from beyond, with :data:`UNLISTED_STATUSES`."""
    rng = random.Random(STATUS_SEED)
    drawn = (rng.sample(range(400, 432), 6) + rng.sample(range(432, 500), 6)
             + rng.sample(range(500, 512), 4) + rng.sample(range(512, 600), 6))
    return [str(status) for status in sorted(set(drawn) | set(UNLISTED_STATUSES))]


@contextmanager
def _client_errors() -> Iterator[list[BaseException]]:
    """Every error ``chat.completions.create`` raises while the block runs, whatever client
    (or copy of one) it is called on, in order: the objects the client itself made."""
    from openai.resources.chat.completions import Completions

    made: list[BaseException] = []
    original = Completions.create

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - recorded, then raised on as it is
            made.append(error)
            raise

    with mock.patch.object(Completions, "create", create):
        yield made


def _run_llm_as_raised(lab: ModuleType, script: Sequence[Step],
                       policy: dict[str, Any]) -> dict[str, Any]:
    """:func:`_run_llm`, and whether what the call raised is the very error object the
    client raised last (``as_raised``), with the message and ``__cause__`` that object
    has (``client_error``)."""
    with _client_errors() as made:
        caught: list[BaseException] = []

        def describe(error: BaseException) -> dict[str, Any]:
            caught.append(error)
            return _raised(error, lab)

        with _run(script) as (llm, clock, waits):
            client = llm.client(max_retries=0)
            seen = outcome(lambda: lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**policy), sleep=waits.sleep).complete(PROMPT),
                keep=_content, describe=describe)
            seen = _observed(seen, llm, clock, waits)
    seen["as_raised"] = bool(caught and made and caught[0] is made[-1])
    seen["client_error"] = describe_error(made[-1]) if made else None
    return seen


@SCENARIOS.scenario
def unlisted_statuses(lab: ModuleType) -> dict[str, Any]:
    """Every status of :func:`status_cases`: ``is_transient`` asked about the client's own
    error for it, and that status once, then a success, through ``RetryingLLM``."""
    statuses = status_cases()
    errors = _status_errors(statuses)
    seen = {}
    for status in statuses:
        seen[status] = {
            "direct": outcome(lambda e=errors[status]: plain(lab.is_transient(e))),
            "llm": _run_llm_as_raised(
                lab, [failure(int(status)), reply(SUCCESS), reply(TOO_LATE)], QUICK),
        }
    return seen


#: The calls whose every attempt must send the same request: ``(name, options, failures)``.
SAME_HEADER_CALLS = (
    ("plain", {}, ("503", "429", "timeout", "502")),
    ("extra_headers", {"extra_headers": {"x-request-source": "on-call-agent"}},
     ("500", "connect", "503")),
    ("timeout", {"timeout": 20.0}, ("429", "504")),
)


@SCENARIOS.scenario
def same_headers(lab: ModuleType) -> dict[str, Any]:
    """Each call of :data:`SAME_HEADER_CALLS` (max_attempts 6): transient failures, then a
    success; the headers each attempt sent."""
    seen = {}
    for name, options, failures in SAME_HEADER_CALLS:
        steps = [_step(Attempt(kind), TOO_LATE) for kind in failures] + [reply(SUCCESS)]
        with _run(steps + [reply(TOO_LATE)]) as (llm, clock, waits):
            client = llm.client(max_retries=0)
            run = outcome(lambda: lab.RetryingLLM(
                client, policy=lab.RetryPolicy(max_attempts=6, base_delay=0.5),
                sleep=waits.sleep).complete(PROMPT, **options),
                keep=_content, describe=lambda e: _raised(e, lab))
            run["headers"] = sent_headers(llm)
            seen[name] = _observed(run, llm, clock, waits)
    return seen


#: The seed the limits past Python's recursion limit come from.
DEEP_SEED = 20261202


@dataclass(frozen=True)
class DeepCase:
    """``retry_call`` with ``max_attempts`` far past Python's recursion limit, no wait
    (base 0, factor 1): ConnectionErrors until attempt ``succeeds_at`` returns 42 (None:
    every attempt fails, and one call beyond the limit would return too late)."""

    name: str
    max_attempts: int
    succeeds_at: int | None


def deep_cases() -> list[DeepCase]:
    rng = random.Random(DEEP_SEED)
    cases = []
    for number in range(2):
        cases.append(DeepCase(f"success-{number + 1}", rng.randint(2000, 5000),
                              rng.randint(1200, 1800)))
        cases.append(DeepCase(f"give-up-{number + 1}", rng.randint(2000, 5000), None))
    return cases


#: The policy of the deep runs, but for ``max_attempts``.
DEEP_POLICY = {"base_delay": 0.0, "factor": 1.0, "max_delay": 1.0}


def _run_deep(lab: ModuleType, case: DeepCase) -> dict[str, Any]:
    """One :class:`DeepCase`: the calls made, how it ended (``last_is_final``: whether a
    retry error's ``last_error`` is the final call's very error), and the waits in short."""
    calls = 0
    raised: list[BaseException] = []
    ends = case.succeeds_at or case.max_attempts

    def fn() -> Any:
        nonlocal calls
        calls += 1
        if calls == case.succeeds_at:
            return 42
        if calls > ends:
            return TOO_LATE
        raised.append(ConnectionError(f"connection reset, attempt {calls}"))
        raise raised[-1]

    with FrozenClock(detached=True) as clock:
        waits = _Waits(clock, lambda: calls)
        with mock.patch("time.sleep", waits.process_sleep):
            seen = outcome(lambda: lab.retry_call(fn, lab.RetryPolicy(
                max_attempts=case.max_attempts, **DEEP_POLICY), sleep=waits.sleep),
                describe=lambda e: _raised(e, lab, lambda: raised[-1] if raised else None))
    seen["calls"] = calls
    seen["wait_count"] = len(waits.seen)
    seen["waits_after_last"] = sum(1 for after, _w, _via in waits.seen if after >= calls)
    return seen


@SCENARIOS.scenario
def deep_limits(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`deep_cases`."""
    return {case.name: _run_deep(lab, case) for case in deep_cases()}


def _prebuilt_permanent(name: str) -> BaseException:
    """A permanent error made before the call, to raise from a plain function."""
    if name == "openai.BadRequestError":
        return _status_errors(["400"])["400"]
    if name == "httpx.HTTPStatusError":
        return _http_status_error(404)
    if name == "ValueError from KeyError":
        return raised_from(ValueError("the deploy spec has no replicas"), KeyError("replicas"))
    return {"ValueError": lambda: ValueError("negative disk size"),
            "PermissionError": lambda: PermissionError(13, "Permission denied", "/var/log"),
            }[name]()


#: The permanent errors a plain function raises in ``as_raised``.
PREBUILT_PERMANENT = ("ValueError", "PermissionError", "ValueError from KeyError",
                      "openai.BadRequestError", "httpx.HTTPStatusError")
#: The permanent statuses ``as_raised`` sends through ``RetryingLLM``, after two 503s too.
AS_RAISED_STATUSES = PERMANENT_KINDS


@SCENARIOS.scenario
def as_raised(lab: ModuleType) -> dict[str, Any]:
    """A permanent error, and whether the very object reaches the caller: each status of
    :data:`AS_RAISED_STATUSES` through ``RetryingLLM`` (at once, and after two 503s), and
    ``retry_call`` over a function raising a prebuilt error of :data:`PREBUILT_PERMANENT`
    (then a transient one first)."""
    seen: dict[str, Any] = {}
    for status in AS_RAISED_STATUSES:
        seen[f"llm-{status}"] = _run_llm_as_raised(
            lab, [failure(int(status)), reply("should not be asked")], QUICK)
        seen[f"llm-503-503-{status}"] = _run_llm_as_raised(
            lab, [failure(503), failure(503), failure(int(status)), reply("no")],
            {"max_attempts": 4, "base_delay": 0.5})
    for name in PREBUILT_PERMANENT:
        for after in (0, 1):
            error = _prebuilt_permanent(name)
            cause = error.__cause__
            effects = [_raise(ConnectionError("reset"))] * after + [_raise(error), lambda: "no"]
            caught: list[BaseException] = []

            def describe(e: BaseException) -> dict[str, Any]:
                caught.append(e)
                return _raised(e, lab)

            calls = 0

            def fn(effects: list[Callable[[], Any]] = effects) -> Any:
                nonlocal calls
                calls += 1
                return effects[min(calls, len(effects)) - 1]()

            with FrozenClock(detached=True) as clock:
                waits = _Waits(clock, lambda: calls)
                with mock.patch("time.sleep", waits.process_sleep):
                    run = outcome(lambda: lab.retry_call(fn, lab.RetryPolicy(**QUICK),
                                                         sleep=waits.sleep), describe=describe)
            run["calls"] = calls
            run["waits"] = waits.seen
            run["as_raised"] = bool(caught) and caught[0] is error
            run["same_cause"] = bool(caught) and caught[0].__cause__ is cause
            run["error"] = describe_error(error)
            seen[f"call-{after}-{name}"] = run
    return seen


#: The seed the HTTP dates read off UTC come from.
ZONE_SEED = 20261203
#: Process timezones that are not UTC, as POSIX TZ strings (which need no zone database):
#: Asia/Kolkata, America/St_Johns, Europe/Moscow, America/New_York (standard time), in
#: December.
ZONES = ("IST-5:30", "NST+3:30", "MSK-3", "EST+5")


@dataclass(frozen=True)
class ZonedDate:
    """A 503 whose retry-after is an HTTP date (``form``) ``ahead`` seconds after the
    process clock, read in a process whose timezone is ``zone``."""

    name: str
    zone: str
    ahead: int
    form: str


def zoned_cases() -> list[ZonedDate]:
    rng = random.Random(ZONE_SEED)
    return [ZonedDate(f"zoned-{n + 1}", ZONES[n % len(ZONES)], rng.randint(2, 40),
                      ("imf", "rfc850", "asctime")[rng.randrange(3)]) for n in range(8)]


@contextmanager
def _timezone(zone: str) -> Iterator[None]:
    """The process's timezone set to ``zone`` for the block (``TZ`` and ``time.tzset``),
    restored afterwards."""
    import os
    import time

    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@SCENARIOS.scenario
def dates_off_utc(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`zoned_cases`: ``server_delay`` asked directly, and the 503 then
    a success through ``RetryingLLM`` (cap 60 s), in a process whose timezone is not UTC."""
    seen = {}
    for case in zoned_cases():
        text = _date_text(PROCESS_START + _dt.timedelta(seconds=case.ahead), case.form)
        request = httpx.Request("GET", "https://deploy.internal/api/releases")
        response = httpx.Response(503, headers={"retry-after": text}, request=request)
        with _timezone(case.zone):
            direct = outcome(lambda: plain(lab.server_delay(_ErrorWithResponse(response))))
            run = _run_llm(lab, [failure(503, headers={"retry-after": text}), reply(SUCCESS),
                                 reply(TOO_LATE)],
                           {"max_attempts": 3, "base_delay": 0.5, "max_delay": 60.0})
        seen[case.name] = {"text": text, "direct": direct, **run}
    return seen


#: The seed the unjittered runs with an rng come from.
UNJITTERED_SEED = 20261204


@dataclass(frozen=True)
class Unjittered:
    """A policy without jitter, ``failures`` transient failures then a success (a plain
    function, or through ``RetryingLLM``), with a seeded rng handed over all the same."""

    name: str
    via: str
    policy: tuple[tuple[str, Any], ...]
    failures: tuple[str, ...]
    seed: int

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.policy)


def unjittered_cases() -> list[Unjittered]:
    rng = random.Random(UNJITTERED_SEED)
    cases = []
    for number in range(6):
        limit = rng.randint(3, 6)
        policy = {"max_attempts": limit, "base_delay": rng.choice((0.25, 0.5, 1.0)),
                  "factor": rng.choice((1.5, 2.0, 3.0)), "max_delay": rng.choice((2.0, 30.0)),
                  "jitter": False}
        failures = tuple(rng.choice(("429", "500", "503", "timeout", "connect"))
                         for _ in range(rng.randint(1, limit - 1)))
        cases.append(Unjittered(f"unjittered-{number + 1}", ("llm", "call")[number % 2],
                                tuple(policy.items()), failures, rng.randint(1, 10**6)))
    return cases


def _run_unjittered(lab: ModuleType, case: Unjittered, rng: random.Random | None
                    ) -> dict[str, Any]:
    if case.via == "llm":
        steps = [_step(Attempt(kind), TOO_LATE) for kind in case.failures] + [
            reply(SUCCESS), reply(TOO_LATE)]
        return _run_llm(lab, steps, case.settings, rng=rng)
    effects = [_raise(TimeoutError("slow disk") if kind == "timeout" else
                      ConnectionError("reset")) for kind in case.failures]
    calls = 0

    def fn() -> Any:
        nonlocal calls
        calls += 1
        return (effects + [lambda: SUCCESS])[min(calls, len(effects) + 1) - 1]()

    with FrozenClock(detached=True) as clock:
        waits = _Waits(clock, lambda: calls)
        with mock.patch("time.sleep", waits.process_sleep):
            seen = outcome(lambda: lab.retry_call(fn, lab.RetryPolicy(**case.settings),
                                                  sleep=waits.sleep, rng=rng),
                           describe=lambda e: _raised(e, lab))
    seen["calls"] = calls
    seen["waits"] = waits.seen
    return seen


@SCENARIOS.scenario
def rng_without_jitter(lab: ModuleType) -> dict[str, Any]:
    """Every case of :func:`unjittered_cases` with its seeded rng (whether the rng's state
    is the same after the call as before: no draw), and without an rng (the twin); and
    ``backoff_delay`` asked directly, jitter off, with a seeded rng."""
    seen: dict[str, Any] = {}
    for case in unjittered_cases():
        rng = random.Random(case.seed)
        before = rng.getstate()
        run = _run_unjittered(lab, case, rng)
        run["rng_unchanged"] = rng.getstate() == before
        seen[case.name] = run
        seen[f"{case.name}-twin"] = _run_unjittered(lab, case, None)
    direct = {}
    for n in range(4):
        policy = lab.RetryPolicy(base_delay=0.5, factor=2.0, max_delay=3.0)
        rng = random.Random(100 + n)
        before = rng.getstate()
        probe = outcome(lambda n=n, p=policy, r=rng: plain(lab.backoff_delay(n, p, r)))
        probe["without_rng"] = outcome(lambda n=n, p=policy: plain(lab.backoff_delay(n, p)))
        probe["rng_unchanged"] = rng.getstate() == before
        direct[str(n)] = probe
    seen["direct"] = direct
    return seen


#: Calls one RetryingLLM (max_attempts 3) makes in a row in ``calls_after_endings``: each
#: a script of failures, then ``ok`` or a permanent status, or nothing more (a give-up).
AFTER_ENDINGS = {
    "give-up-first": (("503", "429", "502"), ("503", "ok"), ("400",), ("500", "502", "ok"),
                      ("timeout", "503", "504")),
    "permanent-first": (("404",), ("503", "ok"), ("500", "429", "503"), ("502", "ok"),
                        ("401",), ("503", "ok")),
}
#: The clients handed over there: with the client's own retries left on.
AFTER_CLIENTS = {"default": {}, "five": {"max_retries": 5}}


@SCENARIOS.scenario
def calls_after_endings(lab: ModuleType) -> dict[str, Any]:
    """One RetryingLLM over a client with retries of its own (the default, and 5), making
    the calls of each sequence of :data:`AFTER_ENDINGS` in a row, the first giving up or
    raising a permanent error: what each call did and what the client sent by itself."""
    seen: dict[str, Any] = {}
    for sequence, calls in AFTER_ENDINGS.items():
        for client_name, options in AFTER_CLIENTS.items():
            steps = [_step(Attempt(kind), SUCCESS) for call in calls for kind in call]
            with _run(steps + [reply(TOO_LATE)] * 4) as (llm, clock, waits):
                wrapper = required(lambda: lab.RetryingLLM(
                    llm.client(**options), policy=lab.RetryPolicy(max_attempts=3,
                                                                  base_delay=0.5),
                    sleep=waits.sleep))
                ends, made, retried = [], [], []
                for _call in calls:
                    before = waits.requests()
                    underneath = sum(1 for r in llm.requests if r.client_retry)
                    ends.append(outcome(lambda: wrapper.complete(PROMPT), keep=_content,
                                        describe=lambda e: _raised(e, lab)))
                    made.append(waits.requests() - before)
                    retried.append(sum(1 for r in llm.requests if r.client_retry) - underneath)
                seen[f"{sequence}-{client_name}"] = _observed(
                    {"calls": ends, "made": made, "client_retries_per_call": retried},
                    llm, clock, waits)
    return seen
