"""Lab 02 — Idempotent tasks: an independent implementation, written from the stub's contract.

A task's lifecycle is an explicit transition table that a small execution object drives;
arguments are canonicalised by a recursive JSON encoder; an idempotency key is the SHA-256
of the task id, tool name and canonical arguments framed as netstrings.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NoReturn, cast

from labs.kit.devops import SIDE_EFFECTS, DevOpsTools
from labs.kit.keystore import KeyRecord, KeyStore
from labs.kit.tasks import Task, TaskState, TaskStore

Clock = Callable[[], float]
Work = Callable[[Task], str]


class TaskNotFound(LookupError):
    """No task is stored under ``task_id``. Given."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task not found: {task_id}")
        self.task_id = task_id


class TaskInProgress(RuntimeError):
    """Another executor is running the task right now. Given."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task is already running: {task_id}")
        self.task_id = task_id


class IdempotencyConflict(ValueError):
    """An idempotency key was reused with other parameters than it was first used with.
    Given."""

    def __init__(self, key: str, stored: str, given: str) -> None:
        super().__init__(
            f"idempotency key {key} was first used with {stored}, not {given}"
        )
        self.key = key


class KeyInProgress(RuntimeError):
    """The operation under this idempotency key is running right now. Given."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the operation under idempotency key {key} is still running")
        self.key = key


# -- tasks ------------------------------------------------------------------------------

#: The moves a task may make: each state, and the states it may be saved in next.
_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.RUNNING}),
    TaskState.RUNNING: frozenset({TaskState.COMPLETED, TaskState.FAILED}),
    TaskState.COMPLETED: frozenset(),
    TaskState.FAILED: frozenset({TaskState.RUNNING}),
}


def _moved(task: Task, target: TaskState, at: float, **changes: Any) -> Task:
    """``task`` moved to ``target`` at time ``at`` with ``changes``; an illegal move is a bug."""
    source = TaskState(task.state)
    if target not in _TRANSITIONS[source]:
        raise RuntimeError(f"task {task.id}: no move from {source.value} to {target.value}")
    return replace(task, state=target, updated_at=at, **changes)


def _describe(error: Exception) -> str:
    """The text a failed task records for ``error``: ``"<ExceptionType>: <message>"``."""
    return f"{type(error).__name__}: {error}"


def create_task(store: TaskStore, user_input: str, *, now: Clock = time.time) -> Task:
    """Save a new pending task for ``user_input``, with a random id, and return it."""
    stamp = now()
    task = Task(
        id=f"task-{uuid.uuid4().hex}",
        user_input=user_input,
        state=TaskState.PENDING,
        created_at=stamp,
        updated_at=stamp,
    )
    store.save(task)
    return task


@dataclass(frozen=True)
class _Execution:
    """One call of :func:`execute_task`: reads the task and acts on the state it finds."""

    store: TaskStore
    task_id: str
    work: Work
    now: Clock

    def run(self) -> str:
        task = self.store.get(self.task_id)
        if task is None:
            raise TaskNotFound(self.task_id)
        return _ON_STATE[TaskState(task.state)](self, task)

    def replay(self, task: Task) -> str:
        """A completed task: its stored result, with nothing run or saved."""
        return cast(str, task.result)

    def refuse(self, task: Task) -> NoReturn:
        """A running task belongs to another executor."""
        raise TaskInProgress(task.id)

    def claim_and_run(self, task: Task) -> str:
        """A pending or failed task: claim it atomically, then do the work."""
        running = _moved(task, TaskState.RUNNING, self.now(), error=None)
        if not self.store.compare_and_set(running, expected=TaskState(task.state)):
            return self.after_lost_claim()
        return self.perform(running)

    def after_lost_claim(self) -> str:
        """Another executor claimed the task first: its result if it is done, else refuse."""
        current = self.store.get(self.task_id)
        if current is not None and TaskState(current.state) is TaskState.COMPLETED:
            return self.replay(current)
        raise TaskInProgress(self.task_id)

    def perform(self, running: Task) -> str:
        """Run the work on the claimed task and save how it ended."""
        try:
            result = self.work(running)
        except Exception as error:
            failed = _moved(running, TaskState.FAILED, self.now(), error=_describe(error))
            self.store.save(failed)
            raise
        self.store.save(_moved(running, TaskState.COMPLETED, self.now(), result=result))
        return result


#: What :func:`execute_task` does with a task, by the state it reads.
_ON_STATE: Mapping[TaskState, Callable[[_Execution, Task], str]] = {
    TaskState.PENDING: _Execution.claim_and_run,
    TaskState.FAILED: _Execution.claim_and_run,
    TaskState.RUNNING: _Execution.refuse,
    TaskState.COMPLETED: _Execution.replay,
}


def execute_task(store: TaskStore, task_id: str, work: Work, *, now: Clock = time.time) -> str:
    """Run ``work`` for the task unless it has already completed; return its result.

    Unknown id: :class:`TaskNotFound`. Completed: the stored result. Running:
    :class:`TaskInProgress`. Pending or failed: claimed with ``compare_and_set``, then
    saved completed or failed (the work's exception re-raised).
    """
    return _Execution(store, task_id, work, now).run()


# -- canonical arguments and keys ----------------------------------------------------------


def _parsed(arguments: str | Mapping[str, Any]) -> Any:
    """The arguments as data: a mapping as it is, JSON text parsed, blank text as none."""
    if isinstance(arguments, Mapping):
        return arguments
    if not arguments.strip():
        return {}
    return json.loads(arguments)


def _encode(value: Any) -> str:
    """``value`` as JSON text with every object's keys sorted and no whitespace."""
    if isinstance(value, Mapping):
        return _encode_object(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if value is None or isinstance(value, (str, int, float)):
        return json.dumps(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _encode_object(members: Mapping[Any, Any]) -> str:
    names = list(members)
    if not all(isinstance(name, str) for name in names):
        raise TypeError("the names of a JSON object must be strings")
    pairs = (f"{_encode(name)}:{_encode(members[name])}" for name in sorted(names))
    return "{" + ",".join(pairs) + "}"


def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:
    """One text for every way of writing the same arguments (``""`` means none): JSON with
    sorted keys and no whitespace."""
    return _encode(_parsed(arguments))


def _netstring(text: str) -> bytes:
    """``text`` framed with its length, so that no two sequences of parts run together."""
    data = text.encode("utf-8", "surrogatepass")
    return b"%d:%s," % (len(data), data)


def idempotency_key(task_id: str, tool_name: str, arguments: str | Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of the task id, the tool name and the canonical arguments, each
    framed as a netstring: the same call in the same task has the same key anywhere."""
    parts = (task_id, tool_name, canonical_arguments(arguments))
    return hashlib.sha256(b"".join(_netstring(part) for part in parts)).hexdigest()


# -- keyed calls ------------------------------------------------------------------------


def _answer_from(found: KeyRecord, params: str) -> str:
    """What a caller that did not get the key is told by the record already there."""
    if found.params != params:
        raise IdempotencyConflict(found.key, found.params, params)
    if not found.done:
        raise KeyInProgress(found.key)
    return cast(str, found.result)


def run_once(keys: KeyStore, key: str, params: str, action: Callable[[], str]) -> str:
    """Run ``action`` at most once under ``key`` (claimed with ``put_if_absent``) and return
    its result; a repeat gets the stored result, other ``params`` a conflict, a running one
    :class:`KeyInProgress`. A failure releases the key and is re-raised."""
    claim = KeyRecord(key, params)
    found = keys.put_if_absent(claim)
    if found is not None:
        return _answer_from(found, params)
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
    keys.put(replace(claim, done=True, result=result))
    return result


def _call_params(name: str, arguments: str) -> str:
    """The params of a tool call: the JSON array of its name and its canonical arguments."""
    return _encode([name, _parsed(arguments)])


class IdempotentTools:
    """The tool executor of one task: side-effecting calls run at most once.

    Pass an instance as the ``execute`` of ``labs.kit.agent.run_agent``.
    """

    def __init__(self, tools: DevOpsTools, keys: KeyStore, task_id: str) -> None:
        self.tools = tools
        self.keys = keys
        self.task_id = task_id

    def __call__(self, name: str, arguments: str) -> str:
        """Run ``name(arguments)``: a read every time, a side effect once per key."""
        if name not in SIDE_EFFECTS:
            return self.tools.execute(name, arguments)
        return run_once(
            self.keys,
            idempotency_key(self.task_id, name, arguments),
            _call_params(name, arguments),
            lambda: self.tools.execute(name, arguments),
        )
