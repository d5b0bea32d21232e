"""Lab 01 — Retry with exponential backoff.

An agent that gives up on the first 429 or dropped connection fails all day long; one that
retries everything hammers a server that already said no. Build the retry layer the rest of
the course stands on: retry what is transient, at once raise what is not, wait
``base_delay * factor ** n`` between attempts (capped, optionally with full jitter), listen
when the server says how long to wait, and give up with an error that says what happened.

Complete every function and method below that raises ``NotImplementedError``; keep the names
and signatures (the notebook and the grader call them). ``RetryPolicy`` and ``RetryError``
are given.

Counting: ``max_attempts`` counts attempts (requests), not retries. ``max_attempts=4`` is one
first try and up to three retries. The seed's ``maxRetries`` counts attempts too, while the
OpenAI client's ``max_retries=2`` means three requests: always say which one you count.

Time: never call ``time.sleep`` yourself; call the ``sleep`` you are given. The notebook and
the grader pass a fake one that moves a frozen clock, so a 4-second wait costs nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

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
      ``base_delay * factor ** n`` (``factor`` is at least 1), whatever waits came before
      (server-chosen ones included): never chained from the previous wait.
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


def is_transient(error: BaseException) -> bool:
    """True for failures another attempt may cure, False for everything else.

    Transient:
    - ``openai.APIStatusError`` whose ``status_code`` is 408, 409, 429 or any 5xx, statuses
      no registry lists included (a 509, a Cloudflare 520-527, a proxy's 599);
    - ``openai.APIConnectionError`` (which includes ``openai.APITimeoutError``);
    - ``httpx.TransportError`` (timeouts, refused connections) and the built-in
      ``TimeoutError`` and ``ConnectionError``, for callables that are not the OpenAI client.

    Everything else is permanent: 400, 401, 403, 404, 422 (a bad request stays bad however
    often it is sent), any other 4xx, unlisted ones such as 444 or 499 too, and programming
    errors such as ``ValueError`` or ``KeyError``.

    The error's own type and status decide, whatever its ``__cause__`` or ``__context__``:
    a ``ConnectionError`` raised from a ``PermissionError`` (or while handling a
    ``ValueError``) is transient, a ``ValueError`` raised from a ``TimeoutError`` permanent.
    """
    raise NotImplementedError("is_transient")


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """The wait before retry number ``retry``, counting from 0 for the first retry.

    Without jitter: ``min(policy.max_delay, policy.base_delay * policy.factor ** retry)``,
    so the defaults give 1, 2, 4, 8, 16, 30, 30, ... seconds. A huge ``retry`` must not
    raise (``2.0 ** 5000`` overflows): the formula still decides, so the cap applies (and a
    ``base_delay`` of 0 still gives 0).

    With ``policy.jitter``: exactly ``rng.uniform(0, capped)``, one draw per call, where
    ``capped`` is the wait without jitter (the ``random`` module's ``uniform`` when ``rng``
    is None). The same seeded ``rng`` then gives the same waits. Without jitter ``rng`` is
    not used: an rng handed over changes no wait and is never drawn from. The rng is drawn
    from only here, and ``retry_call`` calls this once for each backoff wait it actually
    makes, when it makes it.
    """
    raise NotImplementedError("backoff_delay")


def server_delay(error: BaseException) -> float | None:
    """The delay the server asked for in the failed response, in seconds, or None.

    Look at the error's own response, ``error.response.headers`` (OpenAI status errors
    carry the ``httpx.Response``; other errors may have no ``response`` at all, and then the
    answer is None: the response of its ``__cause__`` or ``__context__`` is not read):
    - ``retry-after-ms``: milliseconds, may be fractional; it wins when both are present;
    - ``retry-after``: whole seconds, or an HTTP date in any of HTTP's three forms
      (IMF-fixdate, RFC 850, asctime; always GMT): then the seconds from now, on
      ``time.time()`` as it is (its fraction of a second counts), until that date; a date
      in the past gives 0. The date is GMT whatever the machine's timezone: never read it
      as local time. Seconds with a fraction (``3.5``) are yours to read as they are (the
      OpenAI client does) or to count unreadable: a fraction travels in ``retry-after-ms``.
    A value that is missing, negative, infinite, not a number (``nan``) or unreadable
    counts as absent: an unusable ``retry-after-ms`` leaves ``retry-after`` to decide, and
    when neither gives a delay the answer is None (fall back to the computed backoff).
    Other headers (such as the OpenAI server's ``x-should-retry``) change nothing here or
    in ``is_transient``.
    """
    raise NotImplementedError("server_delay")


def retry_call(
    fn: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn()`` until it succeeds, retrying transient failures; return its result.

    - A permanent error (``is_transient`` is False) is raised at once, as it is: the very
      exception object ``fn`` raised (not a copy, not another message or ``__cause__``),
      not wrapped, not waited on, ``fn`` called only that once.
    - Only the error's type and status decide: ``fn`` raising the very same exception
      object again is retried like any other failure (its identity means nothing).
    - A transient error is followed by a wait and another attempt, until
      ``policy.max_attempts`` attempts have been made, however many that is (thousands,
      far past Python's recursion limit, work like four). The wait after failed attempt
      ``n`` (counting from 0) is ``backoff_delay(n, policy, rng)``, unless the server asked
      for a delay (``server_delay``): then that delay, capped at ``policy.max_delay``,
      replaces the backoff for that one wait (no jitter on it; whether an unused jitter
      was drawn for it is up to you). ``n`` still counts every failed attempt, those
      whose wait the server chose included.
    - Every wait goes through ``sleep(seconds)``. There is no wait after the last attempt:
      none after the attempt that succeeds, nor after a permanent error. How long an
      attempt took changes no wait.
    - When the last attempt fails with a transient error, raise
      ``RetryError(attempts, last_error) from last_error``, whether or not that error
      carried a ``retry-after``.
    - Only ``Exception`` is caught: ``KeyboardInterrupt`` and ``SystemExit`` pass through.
    - The rng is drawn from only by ``backoff_delay``, once for each backoff wait actually
      made, when it is made: no draws planned ahead for waits that never come (after a
      success, a permanent error or the last attempt). So several calls sharing one seeded
      rng wait exactly the stream's next ``uniform(0, capped)`` draws.
    """
    raise NotImplementedError("retry_call")


class RetryingLLM:
    """Chat completions through exactly one retry layer: this one.

    The OpenAI client retries on its own (``max_retries=2`` by default, so up to three
    requests per call, with its own waits). Two layers multiply: four attempts of ours
    would become twelve requests. Keep a copy of ``client`` with its retries turned off
    (``client.with_options(max_retries=0)``; the caller's own client is left as it was)
    and send every request through that copy, with ``retry_call`` as the one retry loop,
    so the server sees exactly ``policy.max_attempts`` requests at most, on every call:
    after an earlier call gave up or raised a permanent error too.

    The ``rng`` is for the jittered waits only (``retry_call`` hands it to
    ``backoff_delay``): it is used for nothing else, so the calls of one ``RetryingLLM``
    wait the seeded stream's next draws, one for each wait made.
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
        raise NotImplementedError("RetryingLLM.__init__")

    def complete(self, messages: Iterable[Mapping[str, Any]], **options: Any) -> ChatCompletion:
        """Send one chat completion (``model`` and ``messages``, plus any ``options`` such
        as ``tools`` or ``timeout`` passed through to ``chat.completions.create``), retried
        as ``retry_call`` does with this object's policy, ``sleep`` and ``rng``. Return the
        ``ChatCompletion``; raise what ``retry_call`` raises. ``messages`` may be any
        iterable, read once: every attempt sends the same request (the same messages,
        options and headers: nothing added or changed per attempt, not even an
        ``x-stainless-retry-count`` of your own). A ``timeout`` option is the request's: it
        changes neither which failures are retried nor the waits (an attempt that timed
        out under it is retried like any other), and a permanent error, 401 included,
        reaches the server once and the caller as the very object the client raised."""
        raise NotImplementedError("RetryingLLM.complete")
