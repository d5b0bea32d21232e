"""Lab 01 — Retry with exponential backoff: an independent implementation.

Written from the stub's contract alone, in the style of tenacity: ``retry_call`` assembles a
retry predicate, a stop rule and a wait rule from the policy and hands them to a small
retrying object; the server's delay headers are read through a table of parsers.
"""

from __future__ import annotations

import email.utils
import functools
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Generic, TypeVar

import httpx
import openai
from openai import OpenAI
from openai.types.chat import ChatCompletion

T = TypeVar("T")
Sleep = Callable[[float], None]

#: HTTP statuses worth another attempt besides every 5xx (the OpenAI client's own list).
TRANSIENT_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts to make and how long to wait between them.

    - ``max_attempts``: the most attempts in all (first try included), at least 1.
    - ``base_delay``: the wait before the first retry, in seconds.
    - ``factor``: the growth of the backoff: before retry ``n`` (from 0) it is
      ``base_delay * factor ** n`` (``factor`` is at least 1).
    - ``max_delay``: no wait is ever longer than this (the cap), in seconds.
    - ``jitter``: when True, each wait is drawn uniformly from ``[0, capped backoff]``
      ("full jitter"), so that many clients failing together do not retry together.

    Given; nothing to complete here.
    """

    max_attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    jitter: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must not be negative")
        if self.factor < 1:
            raise ValueError(f"factor must be at least 1, not {self.factor}")


class RetryError(Exception):
    """Every attempt failed. ``attempts`` were made; ``last_error`` is the final failure.

    Raise it ``from`` the last error, so that ``__cause__`` is that error too and the
    traceback shows both. Given; nothing to complete here.
    """

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last_error!r}")
        self.attempts = attempts
        self.last_error = last_error


# -- classifying failures ------------------------------------------------------------------

#: Failures without an HTTP status that another attempt may cure.
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    openai.APIConnectionError,  # includes openai.APITimeoutError
    httpx.TransportError,
    TimeoutError,
    ConnectionError,
)


def _is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUSES or 500 <= status <= 599


def is_transient(error: BaseException) -> bool:
    """True for failures another attempt may cure, False for everything else.

    Transient:
    - ``openai.APIStatusError`` whose ``status_code`` is 408, 409, 429 or any 5xx;
    - ``openai.APIConnectionError`` (which includes ``openai.APITimeoutError``);
    - ``httpx.TransportError`` (timeouts, refused connections) and the built-in
      ``TimeoutError`` and ``ConnectionError``, for callables that are not the OpenAI client.

    Everything else is permanent: 400, 401, 403, 404, 422 (a bad request stays bad however
    often it is sent) and programming errors such as ``ValueError`` or ``KeyError``.
    """
    if isinstance(error, openai.APIStatusError):
        return _is_transient_status(error.status_code)
    return isinstance(error, _TRANSIENT_TYPES)


# -- the computed backoff ------------------------------------------------------------------


def _exponential(base: float, factor: float, retry: int) -> float:
    """``base * factor ** retry``, as infinity where a float cannot hold it."""
    if base == 0 or factor == 1:
        return float(base)
    try:
        return float(base) * float(factor) ** retry
    except OverflowError:
        return math.inf


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """The wait before retry number ``retry``, counting from 0 for the first retry.

    Without jitter: ``min(policy.max_delay, policy.base_delay * policy.factor ** retry)``,
    so the defaults give 1, 2, 4, 8, 16, 30, 30, ... seconds. A huge ``retry`` must not
    raise (``2.0 ** 5000`` overflows): the formula still decides, so the cap applies (and a
    ``base_delay`` of 0 still gives 0).

    With ``policy.jitter``: exactly ``rng.uniform(0, capped)``, one draw per call, where
    ``capped`` is the wait without jitter (the ``random`` module's ``uniform`` when ``rng``
    is None). The same seeded ``rng`` then gives the same waits.
    """
    capped = float(min(policy.max_delay, _exponential(policy.base_delay, policy.factor, retry)))
    if not policy.jitter:
        return capped
    uniform = rng.uniform if rng is not None else random.uniform
    return uniform(0, capped)


# -- the server's delay --------------------------------------------------------------------


def _usable_number(text: str) -> float | None:
    """``text`` as a finite, non-negative number; None when it is anything else."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _seconds_until_http_date(text: str) -> float | None:
    """Seconds from now (``time.time()``) until the HTTP date ``text``, 0 once it has passed;
    None when ``text`` is not a date."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is always in GMT
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def _from_milliseconds(text: str) -> float | None:
    milliseconds = _usable_number(text)
    return None if milliseconds is None else milliseconds / 1000


def _from_seconds_or_date(text: str) -> float | None:
    seconds = _usable_number(text)
    return seconds if seconds is not None else _seconds_until_http_date(text)


#: The headers that carry a server's delay, in the order they are consulted, each with the
#: parser that turns its value into seconds (None when the value is unusable).
_DELAY_HEADERS: tuple[tuple[str, Callable[[str], float | None]], ...] = (
    ("retry-after-ms", _from_milliseconds),
    ("retry-after", _from_seconds_or_date),
)


def _response_headers(error: BaseException) -> dict[str, str]:
    """The headers of the response attached to ``error``, names in lower case; empty when
    it carries none."""
    headers = getattr(getattr(error, "response", None), "headers", None)
    if not isinstance(headers, Mapping):
        return {}
    return {str(name).lower(): str(value) for name, value in headers.items()}


def server_delay(error: BaseException) -> float | None:
    """The delay the server asked for in the failed response, in seconds, or None.

    Look at ``error.response.headers`` (OpenAI status errors carry the ``httpx.Response``;
    other errors may have no ``response`` at all):
    - ``retry-after-ms``: milliseconds, may be fractional; it wins when both are present;
    - ``retry-after``: whole seconds, or an HTTP date (then the seconds from now, on
      ``time.time()``, until that date; a date in the past gives 0).
    A value that is missing, negative, infinite, not a number (``nan``) or unreadable
    counts as absent: an unusable ``retry-after-ms`` leaves ``retry-after`` to decide, and
    when neither gives a delay the answer is None (fall back to the computed backoff).
    Other headers (such as the OpenAI server's ``x-should-retry``) change nothing here or
    in ``is_transient``.
    """
    headers = _response_headers(error)
    delays = (parse(headers[name]) for name, parse in _DELAY_HEADERS if name in headers)
    return next((delay for delay in delays if delay is not None), None)


# -- the retry loop, assembled from rules --------------------------------------------------


@dataclass(frozen=True)
class _Returned(Generic[T]):
    """An attempt that succeeded, and what it returned."""

    value: T


@dataclass(frozen=True)
class _Failure:
    """An attempt that failed: ``index`` counts failed attempts from 0."""

    index: int
    error: Exception

    @property
    def attempts(self) -> int:
        """How many attempts have been made, this one included."""
        return self.index + 1


_RetryPredicate = Callable[[BaseException], bool]
_StopRule = Callable[[_Failure], bool]
_WaitRule = Callable[[_Failure], float]


def _attempt(fn: Callable[[], T]) -> _Returned[T] | Exception:
    """Call ``fn`` once: what it returned, or the ``Exception`` it raised (anything that is
    not an ``Exception``, such as ``KeyboardInterrupt``, passes through)."""
    try:
        return _Returned(fn())
    except Exception as error:
        return error


def _stop_after_attempt(limit: int) -> _StopRule:
    def stop(failure: _Failure) -> bool:
        return failure.attempts >= limit

    return stop


def _wait_backoff(policy: RetryPolicy, rng: random.Random | None) -> _WaitRule:
    def wait(failure: _Failure) -> float:
        return backoff_delay(failure.index, policy, rng)

    return wait


def _wait_server_first(fallback: _WaitRule, *, cap: float) -> _WaitRule:
    """The server's delay, capped, where it asked for one; ``fallback`` where it did not."""

    def wait(failure: _Failure) -> float:
        asked = server_delay(failure.error)
        return fallback(failure) if asked is None else min(asked, cap)

    return wait


@dataclass(frozen=True)
class _Retrying:
    """Calls a function until it succeeds, as ``retry_if``, ``stop`` and ``wait`` decide."""

    retry_if: _RetryPredicate
    stop: _StopRule
    wait: _WaitRule
    sleep: Sleep

    def __call__(self, fn: Callable[[], T]) -> T:
        failures = 0
        while True:
            outcome = _attempt(fn)
            if isinstance(outcome, _Returned):
                return outcome.value
            failure = _Failure(failures, outcome)
            self._raise_if_final(failure)
            self.sleep(self.wait(failure))
            failures += 1

    def _raise_if_final(self, failure: _Failure) -> None:
        """Raise a permanent error as it is, and give up once the stop rule says so."""
        if not self.retry_if(failure.error):
            raise failure.error
        if self.stop(failure):
            raise RetryError(failure.attempts, failure.error) from failure.error


def retry_call(
    fn: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn()`` until it succeeds, retrying transient failures; return its result.

    - A permanent error (``is_transient`` is False) is raised at once, as it is: not
      wrapped, not waited on, ``fn`` called only that once.
    - A transient error is followed by a wait and another attempt, until
      ``policy.max_attempts`` attempts have been made. The wait after failed attempt
      ``n`` (counting from 0) is ``backoff_delay(n, policy, rng)``, unless the server asked
      for a delay (``server_delay``): then that delay, capped at ``policy.max_delay``,
      replaces the backoff for that one wait (no jitter on it; whether an unused jitter
      was drawn for it is up to you). ``n`` still counts every failed attempt: the waits
      after it are what they would have been.
    - Every wait goes through ``sleep(seconds)``. There is no wait after the last attempt.
    - When the last attempt fails with a transient error, raise
      ``RetryError(attempts, last_error) from last_error``.
    - Only ``Exception`` is caught: ``KeyboardInterrupt`` and ``SystemExit`` pass through.
    """
    retrying = _Retrying(
        retry_if=is_transient,
        stop=_stop_after_attempt(policy.max_attempts),
        wait=_wait_server_first(_wait_backoff(policy, rng), cap=policy.max_delay),
        sleep=sleep,
    )
    return retrying(fn)


# -- the LLM wrapper -----------------------------------------------------------------------


class RetryingLLM:
    """Chat completions through exactly one retry layer: this one.

    The OpenAI client retries on its own (``max_retries=2`` by default, so up to three
    requests per call, with its own waits). Two layers multiply: four attempts of ours
    would become twelve requests. Keep a copy of ``client`` with its retries turned off
    (``client.with_options(max_retries=0)``; the caller's own client is left as it was)
    and send every request through that copy, with ``retry_call`` as the one retry loop,
    so the server sees exactly ``policy.max_attempts`` requests at most.
    """

    def __init__(
        self,
        client: OpenAI,
        *,
        model: str = "gpt-4o-mini",
        policy: RetryPolicy = RetryPolicy(),
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """Keep the client (its retries off), the model, the policy, ``sleep`` and ``rng``."""
        self.client = client.with_options(max_retries=0)
        self.model = model
        self.policy = policy
        self.sleep = sleep
        self.rng = rng

    def complete(self, messages: Iterable[Mapping[str, Any]], **options: Any) -> ChatCompletion:
        """Send one chat completion (``model`` and ``messages``, plus any ``options`` such
        as ``tools`` or ``timeout`` passed through to ``chat.completions.create``), retried
        as ``retry_call`` does with this object's policy, ``sleep`` and ``rng``. Return the
        ``ChatCompletion``; raise what ``retry_call`` raises. ``messages`` may be any
        iterable, read once: every attempt sends the same messages."""
        send = functools.partial(
            self.client.chat.completions.create,
            model=self.model,
            messages=list(messages),
            **options,
        )
        return retry_call(send, self.policy, sleep=self.sleep, rng=self.rng)
