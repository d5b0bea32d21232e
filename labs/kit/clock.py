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

A *detached* clock (``FrozenClock(detached=True)``) keeps time of its own instead: the
process's clock (``time.time()``, ``datetime.now()``) stands still at :data:`PROCESS_START`,
a month before, ``time.monotonic()`` stands still at :data:`PROCESS_MONOTONIC` (seconds
from an arbitrary start, as a real monotonic clock reads: never a time of day), and
``time.sleep`` returns at once without moving anything. Code that reads or waits on the process's clock instead of the ``clock``, ``now``
or ``sleep`` it was handed then shows it at once: its timestamps are a month off, its
deadlines never come, its waits take no time.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from unittest import mock

from freezegun import freeze_time

#: Where every frozen clock in the kit starts unless told otherwise.
DEFAULT_START = _dt.datetime(2026, 1, 1, 9, 0, 0, tzinfo=_dt.timezone.utc)
#: Where the process's own clock stands still while a detached clock runs.
PROCESS_START = _dt.datetime(2025, 12, 1, 6, 30, 0, tzinfo=_dt.timezone.utc)


#: What ``time.monotonic()`` reads while the process's clock is stopped: three days since
#: an arbitrary start, as on a machine up for three days, and far from any epoch time, so
#: that code measuring a date against it instead of ``time.time()`` shows.
PROCESS_MONOTONIC = 3 * 86_400.0


def _stopped_monotonic() -> float:
    return PROCESS_MONOTONIC


#: ``time.sleep`` itself, for the threads a detached clock leaves alone.
_REAL_SLEEP = time.sleep
_process_stopped = 0
_process_lock = threading.Lock()


@contextmanager
def process_clock_stopped() -> Iterator[None]:
    """Stop the process's clock at :data:`PROCESS_START` for the whole block.

    Detached clocks started inside share this one freeze instead of each starting its own
    (a freezegun start scans every loaded module: about 20 ms), so a block that runs
    hundreds of short detached runs pays for one."""
    global _process_stopped
    freezer = freeze_time(PROCESS_START)
    freezer.start()
    monotonic = mock.patch("time.monotonic", _stopped_monotonic)
    monotonic.start()
    with _process_lock:
        _process_stopped += 1
    try:
        yield
    finally:
        with _process_lock:
            _process_stopped -= 1
        monotonic.stop()
        freezer.stop()


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

    With ``detached=True`` the clock's time is its own (see the module's docstring):
    :meth:`now`, :meth:`monotonic`, :meth:`elapsed` and :meth:`datetime` read it, only
    :meth:`sleep` and :meth:`advance` move it, and it is the same in every thread. The
    process's clock stands still at :data:`PROCESS_START`, and ``time.sleep`` in the thread
    that started the clock returns at once, noting what was asked in ``process_sleeps``
    (in any other thread, a Jupyter kernel's own for one, it still sleeps for real).
    """

    def __init__(
        self,
        start: _dt.datetime = DEFAULT_START,
        *,
        patch_sleep: bool = False,
        detached: bool = False,
    ) -> None:
        if patch_sleep and detached:
            raise ValueError("a detached clock never stands in for time.sleep")
        self.start = start
        self.sleeps: list[float] = []
        self.process_sleeps: list[float] = []
        self.detached = detached
        self._freezer = freeze_time(PROCESS_START if detached else start)
        stand_in = self.sleep if patch_sleep else self._process_sleep if detached else None
        self._sleep_patch = mock.patch("time.sleep", stand_in) if stand_in else None
        self._monotonic_patch = mock.patch("time.monotonic", _stopped_monotonic) \
            if detached else None
        self._frozen: object | None = None
        self._origin = 0.0
        self._own = _dt.timedelta(0)
        self._lock = threading.Lock()
        self._shared = False
        self._owner: int | None = None

    def __enter__(self) -> "FrozenClock":
        self._owner = threading.get_ident()
        shared = self.detached and _process_stopped > 0
        self._frozen = self._freezer if shared else self._freezer.start()
        self._shared = shared
        if self._monotonic_patch is not None and not shared:
            self._monotonic_patch.start()
        self._origin = time.monotonic()
        self._own = _dt.timedelta(0)
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
        if not self._shared:
            if self._monotonic_patch is not None:
                self._monotonic_patch.stop()
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
        step = _dt.timedelta(seconds=float(seconds))
        frozen = self._require_running()
        if self.detached:
            with self._lock:
                self._own += step
        else:
            frozen.tick(step)  # type: ignore[attr-defined]

    def now(self) -> float:
        """Seconds since the epoch on this clock (``time.time()`` unless detached)."""
        if self.detached:
            return self.datetime().timestamp()
        return time.time()

    def monotonic(self) -> float:
        """The clock deadlines are measured on (the frozen ``time.monotonic()`` unless
        detached)."""
        if self.detached:
            return self.now()
        return time.monotonic()

    def elapsed(self) -> float:
        """Seconds the clock has moved since it started, rounded to the microsecond."""
        if self.detached:
            with self._lock:
                return round(self._own.total_seconds(), 6)
        return round(time.monotonic() - self._origin, 6)

    def datetime(self) -> _dt.datetime:
        """This clock's time as an aware UTC datetime."""
        if self.detached:
            with self._lock:
                return self.start + self._own
        return _dt.datetime.now(_dt.timezone.utc)

    def _process_sleep(self, seconds: float) -> None:
        """``time.sleep`` under a detached clock: in the owner thread, note the wait and move
        nothing; in any other thread, really sleep."""
        if threading.get_ident() != self._owner:
            _REAL_SLEEP(seconds)
            return
        self.process_sleeps.append(float(seconds))
