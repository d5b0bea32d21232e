"""A frozen clock whose only way forward is an explicit sleep or advance.

freezegun freezes ``time.time``, ``time.monotonic``, ``time.perf_counter`` and ``datetime``
but not ``time.sleep``. :class:`FrozenClock` pairs a freezegun freeze with a fake
:meth:`FrozenClock.sleep` that moves the frozen time forward instead of waiting, so a
4-second backoff or a 10-minute deadline costs no real time and gives the same figures on
every machine. Labs take an injectable ``sleep`` (and, where useful, a ``clock``) so that the
notebooks and the grader can hand them this one.

Frozen time makes every timestamp equal until something advances it: never build ids or an
order from the clock. Inside worker threads freezegun may return real time; do not rely on
frozen time there.
"""

from __future__ import annotations

import datetime as _dt
import time
from types import TracebackType
from unittest import mock

from freezegun import freeze_time

#: Where every frozen clock in the kit starts unless told otherwise.
DEFAULT_START = _dt.datetime(2026, 1, 1, 9, 0, 0, tzinfo=_dt.timezone.utc)


class FrozenClock:
    """Frozen time that moves only when :meth:`sleep` or :meth:`advance` is called.

    Use it as a context manager; inside, ``time.time()``, ``time.monotonic()`` and
    ``datetime.now()`` all read the frozen time::

        with FrozenClock() as clock:
            clock.sleep(1.5)
            assert clock.elapsed() == 1.5

    ``sleeps`` records every fake sleep, in order, as the seconds asked for.

    With ``patch_sleep=True`` the clock also stands in for ``time.sleep`` while it runs, so
    code that sleeps without being handed the fake (the OpenAI client's own retry loop, for
    one) moves the frozen time too instead of waiting for real. Use it only where no
    background thread sleeps, or that thread would move the clock.
    """

    def __init__(self, start: _dt.datetime = DEFAULT_START, *, patch_sleep: bool = False) -> None:
        self.start = start
        self.sleeps: list[float] = []
        self._freezer = freeze_time(start)
        self._sleep_patch = mock.patch("time.sleep", self.sleep) if patch_sleep else None
        self._frozen: object | None = None
        self._origin = 0.0

    def __enter__(self) -> "FrozenClock":
        self._frozen = self._freezer.start()
        self._origin = time.monotonic()
        if self._sleep_patch is not None:
            self._sleep_patch.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sleep_patch is not None:
            self._sleep_patch.stop()
        self._freezer.stop()
        self._frozen = None

    def _require_running(self) -> object:
        if self._frozen is None:
            raise RuntimeError("FrozenClock is not running: use it as a context manager")
        return self._frozen

    def sleep(self, seconds: float) -> None:
        """Pretend to sleep: record the wait and move the clock forward by ``seconds``.

        A negative or non-finite wait is a bug in the caller and raises ValueError.
        """
        seconds = float(seconds)
        if not seconds >= 0 or seconds == float("inf"):
            raise ValueError(f"cannot sleep for {seconds!r} seconds")
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` without recording a sleep (a slow reply)."""
        self._require_running().tick(_dt.timedelta(seconds=float(seconds)))  # type: ignore[attr-defined]

    def now(self) -> float:
        """Seconds since the epoch, on the frozen clock (``time.time()``)."""
        return time.time()

    def monotonic(self) -> float:
        """The frozen ``time.monotonic()``: the clock deadlines are measured on."""
        return time.monotonic()

    def elapsed(self) -> float:
        """Seconds the clock has moved since it started, rounded to the microsecond."""
        return round(time.monotonic() - self._origin, 6)

    def datetime(self) -> _dt.datetime:
        """The frozen time as an aware UTC datetime."""
        return _dt.datetime.now(_dt.timezone.utc)
