"""Tasks with a state, and the stores that keep them (the seed's steps 1 and 2).

A :class:`Task` is the seed's ``Task``: an id, the user's input, a :class:`TaskState`, the
result or the error, and two timestamps. It is immutable: a change is a new value made with
:func:`dataclasses.replace` and then saved, so that what is in the store is exactly what was
saved, never an object someone changed afterwards::

    task = store.get(task_id)
    running = replace(task, state=TaskState.RUNNING, updated_at=now())
    store.save(running)

A store is a small database table of tasks (:class:`TaskStore`). Besides ``get`` and
``save`` it offers the one operation that makes concurrent executors safe:
:meth:`TaskStore.compare_and_set`, which saves a task only if the stored one is still in the
state the caller last read, atomically (a database's ``UPDATE ... WHERE state = ?``).
:class:`MemoryTaskStore` is the kit's; lab 04 writes a file and a SQLite store with the same
contract.

Timestamps are seconds since the epoch, as floats, read from a clock the caller is given
(``time.time`` by default; a frozen clock's ``now`` in the notebooks and the grader).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


class TaskState(str, Enum):
    """Where a task is in its life: pending → running → completed, or failed."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Task:
    """One unit of work the agent was asked to do, as it was last saved.

    ``result`` is set when the task completed, ``error`` (a short text) when it failed.
    ``created_at`` never changes; ``updated_at`` is the time of the last state change.
    ``messages`` is the agent's conversation so far (chat messages as plain dicts, see
    :mod:`labs.kit.agent`): saved after every step, it is what a restarted agent resumes
    from. Empty until the agent starts.
    """

    id: str
    user_input: str
    state: TaskState = TaskState.PENDING
    result: str | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    messages: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The task as plain JSON-ready data (the state as its text)."""
        return {
            "id": self.id,
            "user_input": self.user_input,
            "state": self.state.value,
            "result": self.result,
            "error": self.error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "messages": [dict(message) for message in self.messages],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Task":
        """The inverse of :meth:`to_dict`; a missing field or an unknown state is an error
        (``messages`` may be left out: no conversation yet)."""
        return cls(
            id=str(data["id"]),
            user_input=str(data["user_input"]),
            state=TaskState(data["state"]),
            result=data.get("result"),
            error=data.get("error"),
            created_at=float(data["created_at"]),
            updated_at=float(data["updated_at"]),
            messages=tuple(dict(message) for message in data.get("messages", ())),
        )


class TaskStore(Protocol):
    """What every task store offers. Tasks go in and come out whole (never a shared object)."""

    def get(self, task_id: str) -> Task | None:
        """The task saved under ``task_id``, or None when there is none."""

    def save(self, task: Task) -> None:
        """Store ``task`` under its id, replacing what was there."""

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        """Store ``task`` only if a task with its id is stored and is in state ``expected``;
        True when it was stored. Atomic: of two callers expecting the same state, one wins."""


class MemoryTaskStore:
    """A :class:`TaskStore` in memory, safe to share between threads.

    ``saves`` lists every task as it was written, in order, which lets a notebook (or a
    check) replay a task's history: ``[t.state for t in store.saves if t.id == task_id]``.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()
        self.saves: list[Task] = []

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def save(self, task: Task) -> None:
        _require_task(task)
        with self._lock:
            self._write(task)

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        _require_task(task)
        with self._lock:
            current = self._tasks.get(task.id)
            if current is None or current.state is not TaskState(expected):
                return False
            self._write(task)
            return True

    def history(self, task_id: str) -> list[Task]:
        """Every saved version of one task, oldest first."""
        with self._lock:
            return [task for task in self.saves if task.id == task_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def _write(self, task: Task) -> None:
        self._tasks[task.id] = task
        self.saves.append(task)


def _require_task(task: object) -> None:
    if not isinstance(task, Task):
        raise TypeError(f"a store keeps Task objects, not {type(task).__name__}")
