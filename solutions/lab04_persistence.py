"""Lab 04 — Persistence and resume (reference solution).

The contract is the stub's, ``labs/lab04_persistence.py``; read it there.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from openai import OpenAI

from labs.kit.agent import Message, assistant_message, start_messages, tool_message
from labs.kit.devops import SIDE_EFFECTS, TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.tasks import Task, TaskState, TaskStore
from labs.lab02_idempotency import TaskNotFound, idempotency_key

Clock = Callable[[], float]

#: The version of the JSON file's layout; another one is refused, not guessed at.
FORMAT = 1


class StoreCorrupted(Exception):
    """A store's file is unreadable: truncated, garbled, or not a store at all."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: the task store cannot be read ({reason})")
        self.path = os.fspath(path)


class JsonFileStore:
    """Every task in one JSON file, replaced whole and atomically on each save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._read()

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._read().get(task_id)

    def save(self, task: Task) -> None:
        with self._lock:
            tasks = self._read()
            tasks[task.id] = task
            self._write(tasks)

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        with self._lock:
            tasks = self._read()
            current = tasks.get(task.id)
            if current is None or current.state is not TaskState(expected):
                return False
            tasks[task.id] = task
            self._write(tasks)
            return True

    def _read(self) -> dict[str, Task]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as error:
            raise StoreCorrupted(self.path, f"{type(error).__name__}: {error}") from None
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            return {task_id: Task.from_dict(entry) for task_id, entry in data["tasks"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise StoreCorrupted(self.path, f"{type(error).__name__}: {error}") from None

    def _write(self, tasks: dict[str, Task]) -> None:
        data = {"format": FORMAT, "tasks": {task_id: t.to_dict() for task_id, t in tasks.items()}}
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(self.path.parent)


class SqliteStore:
    """Tasks in a SQLite database: one row per task, one connection per thread."""

    _COLUMNS = ("id", "user_input", "state", "result", "error", "created_at", "updated_at",
                "messages")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._errors_named():
            self._db().execute(
                "CREATE TABLE IF NOT EXISTS tasks ("
                " id TEXT PRIMARY KEY, user_input TEXT NOT NULL, state TEXT NOT NULL,"
                " result TEXT, error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
                " messages TEXT NOT NULL)"
            )

    def get(self, task_id: str) -> Task | None:
        with self._errors_named():
            row = self._db().execute(
                f"SELECT {', '.join(self._COLUMNS)} FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
        return None if row is None else self._task(row)

    def save(self, task: Task) -> None:
        placeholders = ", ".join("?" for _ in self._COLUMNS)
        updates = ", ".join(f"{column} = excluded.{column}" for column in self._COLUMNS[1:])
        with self._errors_named():
            self._db().execute(
                f"INSERT INTO tasks ({', '.join(self._COLUMNS)}) VALUES ({placeholders}) "
                f"ON CONFLICT(id) DO UPDATE SET {updates}",
                self._row(task),
            )

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        updates = ", ".join(f"{column} = ?" for column in self._COLUMNS[1:])
        with self._errors_named():
            cursor = self._db().execute(
                f"UPDATE tasks SET {updates} WHERE id = ? AND state = ?",
                (*self._row(task)[1:], task.id, TaskState(expected).value),
            )
        return cursor.rowcount == 1

    def close(self) -> None:
        """Close every connection this store opened, in any thread."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Each thread uses only its own connection; close() may end them from any thread.
            connection = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _errors_named(self) -> _SqliteErrors:
        return _SqliteErrors(self.path)

    def _row(self, task: Task) -> tuple[Any, ...]:
        return (task.id, task.user_input, TaskState(task.state).value, task.result, task.error,
                float(task.created_at), float(task.updated_at),
                json.dumps(list(task.messages), ensure_ascii=False))

    def _task(self, row: tuple[Any, ...]) -> Task:
        try:
            data = dict(zip(self._COLUMNS, row))
            data["messages"] = json.loads(data["messages"])
            return Task.from_dict(data)
        except (ValueError, KeyError, TypeError) as error:
            raise StoreCorrupted(self.path, f"task {row[0]!r}: {error}") from None


class _SqliteErrors:
    """Turns SQLite's "file is not a database" and kin into :class:`StoreCorrupted`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: Any) -> None:
        if isinstance(error, sqlite3.DatabaseError) and not isinstance(
            error, sqlite3.OperationalError
        ):
            raise StoreCorrupted(self.path, f"{type(error).__name__}: {error}") from None


def resume_task(
    store: TaskStore,
    task_id: str,
    client: OpenAI,
    tools: DevOpsTools,
    *,
    now: Clock = time.time,
    model: str = DEFAULT_MODEL,
    max_turns: int = 20,
) -> str:
    """Bring the task to an end from wherever its saved state says it is."""
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if task.state is TaskState.COMPLETED:
        return task.result or ""
    if task.state is TaskState.FAILED:
        task = replace(task, state=TaskState.PENDING, error=None, updated_at=now())
        store.save(task)
    run = _Run(store, task, now)
    run.save(state=TaskState.RUNNING,
             messages=task.messages or tuple(start_messages(task.user_input)))
    try:
        return run.to_the_end(client, tools, model=model, max_turns=max_turns)
    except Exception as error:
        run.save(state=TaskState.FAILED, error=f"{type(error).__name__}: {error}")
        raise


class _Run:
    """One task being run: every change goes to the store as soon as it is made."""

    def __init__(self, store: TaskStore, task: Task, now: Clock) -> None:
        self.store, self.task, self.now = store, task, now

    def save(self, **changes: Any) -> None:
        self.task = replace(self.task, **changes, updated_at=self.now())
        self.store.save(self.task)

    def add(self, message: Message) -> None:
        self.save(messages=(*self.task.messages, message))

    def to_the_end(self, client: OpenAI, tools: DevOpsTools, *, model: str,
                   max_turns: int) -> str:
        while True:
            last = self.task.messages[-1]
            if last["role"] == "assistant" and not last.get("tool_calls"):
                return self._complete(last.get("content") or "")
            for call in _unanswered(self.task.messages):
                name, arguments = call["function"]["name"], call["function"]["arguments"]
                key = None
                if name in SIDE_EFFECTS:
                    key = idempotency_key(self.task.id, name, arguments)
                reply = tools.execute(name, arguments, idempotency_key=key)
                self.add(tool_message(call["id"], reply))
            turns = sum(1 for m in self.task.messages if m["role"] == "assistant")
            if turns >= max_turns:
                raise RuntimeError(f"no final answer after {turns} turns")
            completion = client.chat.completions.create(
                model=model, messages=list(self.task.messages), tools=list(TOOL_SCHEMAS)
            )
            self.add(assistant_message(completion.choices[0].message))

    def _complete(self, answer: str) -> str:
        self.save(state=TaskState.COMPLETED, result=answer)
        return answer


def _unanswered(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The tool calls of the last assistant message that have no tool reply yet."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "assistant":
            answered = {m.get("tool_call_id") for m in messages[index + 1:]}
            return [c for c in messages[index].get("tool_calls") or () if c["id"] not in answered]
    return []


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows it)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
