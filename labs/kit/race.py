"""Races on demand: two threads that read a store at the same moment, every time.

A real race depends on luck: both threads must fall into the gap between a read and a
write at once. To see one every time, :class:`Rendezvous` holds each thread's first read
until the other thread has read too. Both then decide on the state as it was before
either wrote, so code that reads, decides and then writes does the work twice on every
run, while code that claims with one atomic operation (``compare_and_set``,
``put_if_absent``) is not held up at all::

    store = LinedUpTaskStore()
    store.save(task)
    first, second = race(lambda: execute_task(store, task.id, work))
    first.unwrap()   # the value, or the exception re-raised
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labs.kit.keystore import KeyRecord, MemoryKeyStore
from labs.kit.tasks import MemoryTaskStore, Task

#: Real seconds a thread waits for the other at the rendezvous before going on alone.
MEET_WAIT = 1.0


class Rendezvous:
    """Holds each of two threads at its first :meth:`meet` until the other arrives.

    Later calls in the same thread pass at once. A thread whose partner never reads goes
    on alone after :data:`MEET_WAIT` seconds.
    """

    def __init__(self) -> None:
        self._barrier = threading.Barrier(2, timeout=MEET_WAIT)
        self._met = threading.local()

    def meet(self) -> None:
        if getattr(self._met, "done", False):
            return
        self._met.done = True
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other thread never reads: nothing to line up with


class LinedUpTaskStore(MemoryTaskStore):
    """A task store whose first ``get`` in each thread waits for the other thread's."""

    def __init__(self) -> None:
        super().__init__()
        self.rendezvous = Rendezvous()

    def get(self, task_id: str) -> Task | None:
        found = super().get(task_id)
        self.rendezvous.meet()
        return found


class LinedUpKeyStore(MemoryKeyStore):
    """A key store whose first read (``get`` or ``keys``) in each thread waits for the
    other thread's."""

    def __init__(self) -> None:
        super().__init__()
        self.rendezvous = Rendezvous()

    def get(self, key: str) -> KeyRecord | None:
        found = super().get(key)
        self.rendezvous.meet()
        return found

    def keys(self) -> list[str]:
        found = super().keys()
        self.rendezvous.meet()
        return found


@dataclass(frozen=True)
class Finish:
    """How one racer's call ended: the value it returned, or what it raised."""

    value: Any = None
    error: BaseException | None = None

    def unwrap(self) -> Any:
        """The value, or the exception raised again."""
        if self.error is not None:
            raise self.error
        return self.value


def race(call: Callable[[], Any], *, join: float = 5.0) -> list[Finish] | None:
    """``call()`` in two threads released at the same moment; how each ended, or None
    when a thread had not returned after ``join`` real seconds (a deadlock)."""
    start = threading.Barrier(2)
    finishes = [Finish(), Finish()]

    def racer(index: int) -> None:
        start.wait()
        try:
            finishes[index] = Finish(value=call())
        except BaseException as error:  # noqa: BLE001 - every ending is reported
            finishes[index] = Finish(error=error)

    threads = [threading.Thread(target=racer, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(join)
    if any(thread.is_alive() for thread in threads):
        return None
    return finishes
