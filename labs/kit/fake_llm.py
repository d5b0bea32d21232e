"""A scripted OpenAI endpoint on respx that records every request.

The kit never talks to a real model: the OpenAI Python client sends its requests to
``https://api.openai.com/v1`` (or any base URL) and respx answers them from a script, one
step per request, in order::

    with FrozenClock() as clock, FakeLLM([
        failure(429, retry_after=2),
        reply("Disk is 95% full", prompt_tokens=30, completion_tokens=8, latency=1.5),
    ], clock=clock) as llm:
        client = llm.client()
        ...
        llm.requests[1].at  # when the second request arrived, in seconds on the clock

A step is one of:

* :func:`reply`: a chat completion with text and/or tool calls and a ``usage`` block;
* :func:`failure`: an HTTP error status with optional ``retry-after`` / ``retry-after-ms``;
* :func:`timeout` and :func:`connect_error`: transport errors (``httpx.ReadTimeout``,
  ``httpx.ConnectError``), which the client raises as ``APITimeoutError`` and
  ``APIConnectionError``.

A step may take simulated time (``latency``): the fake moves the frozen clock forward before
answering. If that is longer than the request's read timeout, the clock moves by the timeout
and the request times out instead, as a real slow server would.

A request that arrives after the script is used up is answered with HTTP 400 and a message
saying so (and counted in :attr:`FakeLLM.overruns`): a clear, permanent error rather than a
silent retry loop. Assert on :attr:`FakeLLM.requests`, never only on "an error happened".

A model that answers a conversation, not a queue: with ``by_turn=True`` the step for a
request is ``script[turn]``, where ``turn`` is how many assistant messages the request
already holds. A restarted agent that asks again for a turn it had lost gets the same
answer again, as a deterministic model would, and one that resumes from its saved
conversation goes on where it stopped. Each request records its ``turn``. A turn's entry
may also be a list of steps, for the attempts at that turn in order, the last one
repeating: ``[failure(503), reply("ok")]`` fails the first request of the turn and answers
the next ones.

``before_reply`` (a callable taking the request's record) runs as each successful reply is
about to leave the server: the place to simulate a crash that loses the reply in flight.

The OpenAI client retries on its own inside one call (one ``create``); each request records
as ``client_retry`` how many requests the same call had already sent: 0 for the request a
caller made, 1 and 2 for the client's own retries of it. The fake counts them per call while
it is active (it wraps the client's request method), so a caller that sets the client's
``x-stainless-retry-count`` header itself still makes requests of its own; outside any call
(a request sent by hand) the header decides. Each request also records its headers. With
``replay_client_retries=True`` a client's own retry gets the answer the request it repeats
got, without using up a step of the script: a caller sees the same failures whether or not
its client retries underneath it, and only the count of requests tells the two apart.

With ``timeouts_as=503`` (any error status) a request that would time out is answered with
that status instead, at the moment it would have timed out: the same server, with every
timeout turned into an ordinary failure. A caller that handles a timeout as it handles any
other transient failure does the same things against both.
"""

from __future__ import annotations

import contextvars
import functools
import json
import math
import ssl
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Union

import httpx
import respx
from openai import DefaultHttpxClient, OpenAI
from openai._base_client import SyncAPIClient

from labs.kit.clock import FrozenClock

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asks for; ``arguments`` is the JSON text the API carries."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """A successful chat completion."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0


@dataclass(frozen=True)
class Failure:
    """An HTTP error response (a status >= 400) with optional headers."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    message: str = ""
    latency: float = 0.0
    code: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class TransportFailure:
    """No HTTP response at all: the request timed out or the connection failed."""

    kind: str  # "timeout" or "connect"
    latency: float = 0.0


Step = Union[Reply, Failure, TransportFailure]


def tool_call(name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str) -> ToolCall:
    """A tool call; ``arguments`` as a mapping is serialised to JSON in its own key order."""
    if arguments is None:
        arguments = {}
    text = arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
    return ToolCall(id=id, name=name, arguments=text)


def reply(
    content: str | None = None,
    *,
    tool_calls: Iterable[ToolCall] = (),
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    latency: float = 0.0,
) -> Reply:
    """A completion with text, tool calls or both, and the ``usage`` it reports."""
    return Reply(content, tuple(tool_calls), prompt_tokens, completion_tokens, latency)


def failure(
    status: int,
    *,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
    headers: Mapping[str, str] | None = None,
    message: str = "",
    latency: float = 0.0,
    code: str | None = None,
    body: str | None = None,
) -> Failure:
    """An HTTP error; ``retry_after`` (seconds or an HTTP date) and ``retry_after_ms`` set
    the ``retry-after`` and ``retry-after-ms`` headers; ``code`` is the error body's
    ``code`` and ``type``, as OpenAI sends them (``"insufficient_quota"``, say), which the
    client puts on the error as ``error.code`` (by default the status). ``body`` replaces
    the JSON error body with this text, as a proxy's HTML error page (or ``""``) would."""
    if status < 400:
        raise ValueError(f"a failure needs an error status (>= 400), not {status}")
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["retry-after"] = _number_text(retry_after)
    if retry_after_ms is not None:
        all_headers["retry-after-ms"] = _number_text(retry_after_ms)
    return Failure(status, tuple(all_headers.items()), message, latency, code, body)


def timeout(*, latency: float = math.inf) -> TransportFailure:
    """The request times out. By default the server never answers, so the clock moves by
    the request's own read timeout."""
    return TransportFailure("timeout", latency)


def connect_error(*, latency: float = 0.0) -> TransportFailure:
    """The connection fails before any response (``httpx.ConnectError``)."""
    return TransportFailure("connect", latency)


@dataclass(frozen=True)
class RecordedRequest:
    """What one request looked like when it reached the fake server."""

    index: int
    body: dict[str, Any]
    at: float | None
    """Arrival time in seconds since the clock started; None when the fake has no clock."""
    timeout: dict[str, float | None]
    """The timeout the request carried: connect, read, write and pool, in seconds."""
    outcome: str = field(default="")
    """``"200"``, ``"429"`` and so on, ``"timeout"``, ``"connect"``, or ``"overrun"``."""
    turn: int = 0
    """How many assistant messages the request's conversation already held."""
    client_retry: int = 0
    """How many requests the same client call had already sent: the OpenAI client's own
    retries count 1, 2, ...; 0 for a request the caller made."""
    headers: dict[str, str] = field(default_factory=dict)
    """The request's headers, names in lower case."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))


class FakeLLM:
    """A respx-mocked OpenAI endpoint answering chat completions from a script.

    Use it as a context manager; while it is active every request the OpenAI client sends
    to ``base_url`` is answered by the next scripted step. :meth:`client` builds a client
    aimed at it (the client's own defaults, including ``max_retries=2``, are kept unless
    you pass options).
    """

    def __init__(
        self,
        script: Iterable[Step | Sequence[Step]] = (),
        *,
        clock: FrozenClock | None = None,
        base_url: str = DEFAULT_BASE_URL,
        by_turn: bool = False,
        before_reply: Callable[[RecordedRequest], None] | None = None,
        replay_client_retries: bool = False,
        timeouts_as: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts_as = timeouts_as
        self.replay_client_retries = replay_client_retries
        self._last_step: Step | None = None
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.overruns = 0
        self.by_turn = by_turn
        self.before_reply = before_reply
        self._turns: tuple[Step | Sequence[Step], ...] = tuple(script) if by_turn else ()
        self._attempts: Counter[int] = Counter()
        self._script: deque[Step] = deque(() if by_turn else script)  # type: ignore[arg-type]
        self._router = respx.MockRouter(
            base_url=self.base_url, assert_all_called=False, assert_all_mocked=True
        )
        self._router.post("/chat/completions").mock(side_effect=self._answer)

    def __enter__(self) -> "FakeLLM":
        self._router.start()
        self._request_method = SyncAPIClient.request
        SyncAPIClient.request = _counting_sent(self._request_method)  # type: ignore[method-assign]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        SyncAPIClient.request = self._request_method  # type: ignore[method-assign]
        self._router.stop()

    def client(self, **options: Any) -> OpenAI:
        """An OpenAI client aimed at this fake (``api_key`` is a placeholder).

        Its HTTP client shares one SSL context across every fake client: building a new
        one costs ~40 ms, and no request ever leaves the process.
        """
        options.setdefault("api_key", "sk-fake-key")
        options.setdefault("http_client", DefaultHttpxClient(verify=_ssl_context()))
        return OpenAI(base_url=self.base_url, **options)

    def then(self, *steps: Step) -> "FakeLLM":
        """Append steps to the script."""
        if self.by_turn:
            self._turns += steps
        else:
            self._script.extend(steps)
        return self

    @property
    def remaining(self) -> int:
        """Scripted steps not used yet (with ``by_turn``, turns no request has reached)."""
        if self.by_turn:
            return max(0, len(self._turns) - max((r.turn + 1 for r in self.requests), default=0))
        return len(self._script)

    def arrivals(self) -> list[float]:
        """Arrival times of every request, in seconds on the clock."""
        return [r.at for r in self.requests if r.at is not None]

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests: the waits a retry loop made."""
        times = self.arrivals()
        return [round(b - a, 6) for a, b in zip(times, times[1:])]

    # -- the server side ---------------------------------------------------------------

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        timeouts = dict(request.extensions.get("timeout") or {})
        arrival = self.clock.elapsed() if self.clock is not None else None
        index = len(self.requests)
        turn = sum(
            1 for message in body.get("messages", [])
            if isinstance(message, dict) and message.get("role") == "assistant"
        )
        client_retry = _client_retry(request)
        record = functools.partial(self._record, index, body, arrival, timeouts, turn=turn,
                                   client_retry=client_retry,
                                   headers={str(k).lower(): str(v)
                                            for k, v in request.headers.items()})
        if self.replay_client_retries and client_retry and self._last_step is not None:
            step: Step | None = self._last_step
        else:
            step = self._next_step(turn)
        self._last_step = step
        if step is None:
            self.overruns += 1
            record("overrun")
            what = f"turn {turn + 1}" if self.by_turn else f"request #{index + 1}"
            return _error_response(400, f"fake LLM: no scripted reply left for {what}", ())
        read_timeout = timeouts.get("read")
        if read_timeout is not None and step.latency > read_timeout:
            self._advance(read_timeout)
            return self._timed_out(record, request, "the reply took too long")
        if isinstance(step, TransportFailure) and step.kind == "timeout":
            if math.isfinite(step.latency):
                self._advance(step.latency)
            return self._timed_out(record, request, "the request timed out")
        self._advance(step.latency)
        if isinstance(step, TransportFailure):
            record("connect")
            raise httpx.ConnectError("fake LLM: connection refused", request=request)
        if isinstance(step, Failure):
            record(str(step.status))
            if step.body is not None:
                return httpx.Response(step.status, headers=[*step.headers,
                                                            ("content-type", "text/html")],
                                      text=step.body)
            return _error_response(step.status, step.message, step.headers, step.code)
        record("200")
        if self.before_reply is not None:
            self.before_reply(self.requests[-1])
        return httpx.Response(200, json=self._completion(index, turn, body, step))

    def _timed_out(self, record: Callable[[str], None], request: httpx.Request,
                   why: str) -> httpx.Response:
        if self.timeouts_as is not None:
            record(str(self.timeouts_as))
            return _error_response(self.timeouts_as, f"fake LLM: {why}", ())
        record("timeout")
        raise httpx.ReadTimeout(f"fake LLM: {why}", request=request)

    def _next_step(self, turn: int) -> Step | None:
        if self.by_turn:
            if turn >= len(self._turns):
                return None
            steps = self._turns[turn]
            if isinstance(steps, (Reply, Failure, TransportFailure)):
                return steps
            attempt = self._attempts[turn]
            self._attempts[turn] += 1
            return steps[min(attempt, len(steps) - 1)]
        return self._script.popleft() if self._script else None

    def _advance(self, seconds: float) -> None:
        if seconds and self.clock is not None:
            self.clock.advance(seconds)

    def _record(
        self,
        index: int,
        body: dict[str, Any],
        arrival: float | None,
        timeouts: dict[str, float | None],
        outcome: str,
        *,
        turn: int,
        client_retry: int,
        headers: dict[str, str],
    ) -> None:
        self.requests.append(
            RecordedRequest(index, body, arrival, timeouts, outcome, turn, client_retry,
                            headers))

    def _completion(self, index: int, turn: int, body: dict[str, Any],
                    step: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": step.content}
        if step.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in step.tool_calls
            ]
        created = int(self.clock.now()) if self.clock is not None else 0
        # With by_turn, the same conversation gets the same answer, id included, in every
        # process: a restarted agent's ids never collide with those it saved.
        completion_id = f"turn-{turn + 1}" if self.by_turn else str(index + 1)
        return {
            "id": f"chatcmpl-fake-{completion_id}",
            "object": "chat.completion",
            "created": created,
            "model": body.get("model", DEFAULT_MODEL),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if step.tool_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": step.prompt_tokens,
                "completion_tokens": step.completion_tokens,
                "total_tokens": step.prompt_tokens + step.completion_tokens,
            },
        }


#: Requests sent so far by the client call (``SyncAPIClient.request``) now running, if any.
_SENT_BY_CALL: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "fake_llm_sent_by_call", default=None)


def _counting_sent(request_method: Callable[..., Any]) -> Callable[..., Any]:
    """The client's request method, counting in :data:`_SENT_BY_CALL` the requests each call
    sends: its retry loop sends them all from inside one call."""

    @functools.wraps(request_method)
    def request(*args: Any, **kwargs: Any) -> Any:
        token = _SENT_BY_CALL.set([0])
        try:
            return request_method(*args, **kwargs)
        finally:
            _SENT_BY_CALL.reset(token)

    return request


def _client_retry(request: httpx.Request) -> int:
    """The OpenAI client's own retry number of ``request``: how many requests the client
    call sending it had already sent (0 for a caller's request); for a request sent outside
    a client call, its ``x-stainless-retry-count`` header (0 when it has none)."""
    sent = _SENT_BY_CALL.get()
    if sent is not None:
        sent[0] += 1
        return sent[0] - 1
    try:
        return max(0, int(request.headers.get("x-stainless-retry-count", "0")))
    except ValueError:
        return 0


def _error_response(
    status: int, message: str, headers: tuple[tuple[str, str], ...], code: str | None = None
) -> httpx.Response:
    text = message or httpx.codes.get_reason_phrase(status) or "error"
    body = {"message": text, "type": "fake_error", "code": status} if code is None else \
        {"message": text, "type": code, "param": None, "code": code}
    return httpx.Response(status, headers=list(headers), json={"error": body})


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _number_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))
