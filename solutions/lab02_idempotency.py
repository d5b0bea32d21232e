"""Lab 02 — Idempotent tasks (reference solution).

The contract is the stub's, ``labs/lab02_idempotency.py``; read it there.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from labs.kit.devops import SIDE_EFFECTS, DevOpsTools
from labs.kit.keystore import KeyRecord, KeyStore
from labs.kit.tasks import Task, TaskState, TaskStore

Clock = Callable[[], float]
Work = Callable[[Task], str]


class TaskNotFound(LookupError):
    """No task is stored under ``task_id``."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task not found: {task_id}")
        self.task_id = task_id


class TaskInProgress(RuntimeError):
    """Another executor is running the task right now."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task is already running: {task_id}")
        self.task_id = task_id


class IdempotencyConflict(ValueError):
    """An idempotency key was reused with other parameters than it was first used with."""

    def __init__(self, key: str, stored: str, given: str) -> None:
        super().__init__(
            f"idempotency key {key} was first used with {stored}, not {given}"
        )
        self.key = key


class KeyInProgress(RuntimeError):
    """The operation under this idempotency key is running right now."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the operation under idempotency key {key} is still running")
        self.key = key


def create_task(store: TaskStore, user_input: str, *, now: Clock = time.time) -> Task:
    """Save a new pending task for ``user_input`` and return it."""
    created = now()
    task = Task(
        id=f"task-{uuid.uuid4().hex}", user_input=user_input, created_at=created, updated_at=created
    )
    store.save(task)
    return task


def execute_task(store: TaskStore, task_id: str, work: Work, *, now: Clock = time.time) -> str:
    """Run ``work`` for the task unless it has already completed; return its result."""
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if task.state is TaskState.COMPLETED:
        return _result(task)
    if task.state is TaskState.RUNNING:
        raise TaskInProgress(task_id)
    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())
    if not store.compare_and_set(running, expected=task.state):
        current = store.get(task_id)
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
        raise TaskInProgress(task_id)
    try:
        result = work(running)
    except Exception as error:
        failed = replace(
            running, state=TaskState.FAILED, error=f"{type(error).__name__}: {error}",
            updated_at=now(),
        )
        store.save(failed)
        raise
    store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))
    return result


def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:
    """One text for every way of writing the same arguments."""
    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idempotency_key(task_id: str, tool_name: str, arguments: str | Mapping[str, Any]) -> str:
    """The key of one tool call within one task."""
    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def run_once(keys: KeyStore, key: str, params: str, action: Callable[[], str]) -> str:
    """Run ``action`` at most once under ``key``; later calls get its result."""
    claim = KeyRecord(key=key, params=params)
    existing = keys.put_if_absent(claim)
    if existing is not None:
        if existing.params != params:
            raise IdempotencyConflict(key, existing.params, params)
        if not existing.done:
            raise KeyInProgress(key)
        return existing.result or ""
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
    keys.put(replace(claim, done=True, result=result))
    return result


class IdempotentTools:
    """The tool executor of one task: side-effecting calls run at most once."""

    def __init__(self, tools: DevOpsTools, keys: KeyStore, task_id: str) -> None:
        self.tools = tools
        self.keys = keys
        self.task_id = task_id

    def __call__(self, name: str, arguments: str) -> str:
        """Run the tool call ``name(arguments)``; arguments are the model's JSON text."""
        if name not in SIDE_EFFECTS:
            return self.tools.execute(name, arguments)
        params = canonical_arguments(arguments)
        key = idempotency_key(self.task_id, name, params)
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )


def _result(task: Task) -> str:
    return task.result if task.result is not None else ""
