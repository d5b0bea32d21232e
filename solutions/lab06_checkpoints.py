"""Lab 06 — Checkpoints and time travel (reference solution).

The contract is the stub's, ``labs/lab06_checkpoints.py``; read it there.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from labs.kit.checkpoints import Checkpoint, CheckpointStore
from labs.kit.graph import Graph, Patch, State
from labs.lab05_reducers import StateSchema, run_step

Clock = Callable[[], float]

#: Digits of a checkpoint id: ids are zero-padded counters, so they sort as they count.
ID_DIGITS = 12


class CheckpointNotFound(LookupError):
    """No checkpoint has this id (or the thread has none)."""


class CheckpointCorrupted(Exception):
    """A stored checkpoint cannot be read; the message names where it is."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: the checkpoint cannot be read ({reason})")
        self.where = where


def _id(number: int) -> str:
    return f"{number:0{ID_DIGITS}d}"


def _newest_first(checkpoints: list[Checkpoint], limit: int | None,
                  before: str | None) -> list[Checkpoint]:
    chosen = sorted((c for c in checkpoints if before is None or c.id < before),
                    key=lambda c: c.id, reverse=True)
    return chosen if limit is None else chosen[:limit]


class MemoryCheckpointStore:
    """Checkpoints in memory; every one saved or handed out is a deep copy."""

    def __init__(self) -> None:
        self._saved: dict[str, Checkpoint] = {}
        self._count = 0
        self._lock = threading.Lock()

    def save(self, checkpoint: Checkpoint) -> str:
        with self._lock:
            self._count += 1
            checkpoint_id = _id(self._count)
            self._saved[checkpoint_id] = replace(copy.deepcopy(checkpoint), id=checkpoint_id)
            return checkpoint_id

    def load(self, checkpoint_id: str) -> Checkpoint:
        with self._lock:
            found = self._saved.get(checkpoint_id)
            if found is None:
                raise CheckpointNotFound(f"no checkpoint {checkpoint_id!r}")
            return copy.deepcopy(found)

    def latest(self, thread_id: str) -> Checkpoint | None:
        newest = self.list(thread_id, limit=1)
        return newest[0] if newest else None

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        with self._lock:
            mine = [c for c in self._saved.values() if c.thread_id == thread_id]
            return copy.deepcopy(_newest_first(mine, limit, before))

    def delete(self, checkpoint_id: str) -> None:
        with self._lock:
            self._saved.pop(checkpoint_id, None)

    def clear(self, thread_id: str) -> None:
        with self._lock:
            for checkpoint_id in [i for i, c in self._saved.items() if c.thread_id == thread_id]:
                del self._saved[checkpoint_id]


class FileCheckpointStore:
    """One JSON file per checkpoint, ``<folder>/<thread as hex>/<id>.json``, each written
    atomically; the id counter in ``<folder>/sequence``; one process at a time holds
    ``<folder>/.lock`` while it writes."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def save(self, checkpoint: Checkpoint) -> str:
        with self._exclusive():
            sequence = self.folder / "sequence"
            number = int(sequence.read_text()) + 1 if sequence.exists() else 1
            checkpoint_id = _id(number)
            data = replace(checkpoint, id=checkpoint_id).to_dict()
            self._write(self._thread_folder(checkpoint.thread_id) / f"{checkpoint_id}.json",
                        json.dumps(data, ensure_ascii=False))
            self._write(sequence, str(number))
            return checkpoint_id

    def load(self, checkpoint_id: str) -> Checkpoint:
        for path in self.folder.glob(f"*/{checkpoint_id}.json"):
            return self._read(path)
        raise CheckpointNotFound(f"no checkpoint {checkpoint_id!r} in {self.folder}")

    def latest(self, thread_id: str) -> Checkpoint | None:
        newest = self.list(thread_id, limit=1)
        return newest[0] if newest else None

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        names = sorted((p.stem for p in self._thread_folder(thread_id).glob("*.json")
                        if before is None or p.stem < before), reverse=True)
        if limit is not None:
            names = names[:limit]
        return [self._read(self._thread_folder(thread_id) / f"{name}.json") for name in names]

    def delete(self, checkpoint_id: str) -> None:
        with self._exclusive():
            for path in self.folder.glob(f"*/{checkpoint_id}.json"):
                path.unlink()

    def clear(self, thread_id: str) -> None:
        with self._exclusive():
            for path in self._thread_folder(thread_id).glob("*.json"):
                path.unlink()

    def _thread_folder(self, thread_id: str) -> Path:
        return self.folder / thread_id.encode("utf-8").hex()

    def _read(self, path: Path) -> Checkpoint:
        try:
            return Checkpoint.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointCorrupted(str(path), f"{type(error).__name__}: {error}") from None

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock, open(self.folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class SqliteCheckpointStore:
    """Checkpoints as rows of a SQLite table; the row's integer key is the id's counter."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._execute(
            "CREATE TABLE IF NOT EXISTS checkpoints ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL, body TEXT NOT NULL)"
        )
        self._execute("CREATE INDEX IF NOT EXISTS by_thread ON checkpoints (thread_id, seq)")

    def save(self, checkpoint: Checkpoint) -> str:
        body = {k: v for k, v in checkpoint.to_dict().items() if k != "id"}
        cursor = self._execute("INSERT INTO checkpoints (thread_id, body) VALUES (?, ?)",
                               (checkpoint.thread_id, json.dumps(body, ensure_ascii=False)))
        assert cursor.lastrowid is not None
        return _id(cursor.lastrowid)

    def load(self, checkpoint_id: str) -> Checkpoint:
        row = self._execute("SELECT seq, body FROM checkpoints WHERE seq = ?",
                            (_number(checkpoint_id),)).fetchone()
        if row is None:
            raise CheckpointNotFound(f"no checkpoint {checkpoint_id!r} in {self.path}")
        return self._checkpoint(*row)

    def latest(self, thread_id: str) -> Checkpoint | None:
        newest = self.list(thread_id, limit=1)
        return newest[0] if newest else None

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        query = "SELECT seq, body FROM checkpoints WHERE thread_id = ?"
        values: list[Any] = [thread_id]
        if before is not None:
            query += " AND seq < ?"
            values.append(_number(before))
        query += " ORDER BY seq DESC"
        if limit is not None:
            query += " LIMIT ?"
            values.append(limit)
        return [self._checkpoint(*row) for row in self._execute(query, values).fetchall()]

    def delete(self, checkpoint_id: str) -> None:
        self._execute("DELETE FROM checkpoints WHERE seq = ?", (_number(checkpoint_id),))

    def clear(self, thread_id: str) -> None:
        self._execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _checkpoint(self, seq: int, body: str) -> Checkpoint:
        try:
            return Checkpoint.from_dict({**json.loads(body), "id": _id(seq)})
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointCorrupted(f"{self.path} (checkpoint {_id(seq)})",
                                      f"{type(error).__name__}: {error}") from None

    def _execute(self, query: str, values: Any = ()) -> sqlite3.Cursor:
        connection = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA journal_mode = WAL")
                self._local.connection = connection
                with self._lock:
                    self._connections.append(connection)
            return connection.execute(query, values)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):
                raise
            raise CheckpointCorrupted(str(self.path), f"{type(error).__name__}: {error}") from None


def _number(checkpoint_id: str) -> int:
    try:
        return int(checkpoint_id)
    except ValueError:
        raise CheckpointNotFound(f"no checkpoint {checkpoint_id!r}") from None


class CheckpointedGraph:
    """A graph run that saves a checkpoint after every step, and can go back to any."""

    def __init__(self, graph: Graph, schema: StateSchema, store: CheckpointStore, *,
                 clock: Clock = time.time, max_steps: int = 25) -> None:
        self.graph, self.schema, self.store = graph, schema, store
        self.clock, self.max_steps = clock, max_steps

    def run(self, thread_id: str, input: Patch) -> State:
        """Start the thread from ``input`` and run it to the end."""
        state = self.schema.cleanup(self.schema.update(self.schema.init(), input))
        first = self._save(thread_id, step=0, ran=(), next=tuple(sorted(self.graph.entry)),
                           state=state, parent_id=None, source="input")
        return self._go_on(first)

    def resume(self, thread_id: str) -> State:
        """Go on from the thread's latest checkpoint."""
        latest = self.store.latest(thread_id)
        if latest is None:
            raise CheckpointNotFound(f"thread {thread_id!r} has no checkpoint")
        return self._go_on(latest)

    def resume_from(self, checkpoint_id: str) -> State:
        """Go on from an earlier checkpoint: a new branch of its thread."""
        return self._go_on(self.store.load(checkpoint_id))

    def update_state(self, checkpoint_id: str, patch: Patch) -> str:
        """A new checkpoint: the one given, with ``patch`` applied through the reducers."""
        base = self.store.load(checkpoint_id)
        state = self.schema.cleanup(self.schema.update(base.state, patch))
        return self._save(base.thread_id, step=base.step, ran=base.ran, next=base.next,
                          state=state, parent_id=base.id, source="update").id

    def history(self, thread_id: str, *, limit: int | None = None,
                before: str | None = None) -> list[Checkpoint]:
        """The thread's checkpoints, newest first."""
        return self.store.list(thread_id, limit=limit, before=before)

    def _go_on(self, checkpoint: Checkpoint) -> State:
        current = checkpoint
        while current.next:
            if current.step >= self.max_steps:
                raise RecursionError(f"the graph was still running after {self.max_steps} steps")
            result = run_step(self.graph, self.schema, current.state, current.next,
                              step=current.step + 1)
            current = self._save(current.thread_id, step=result.step, ran=result.ran,
                                 next=result.next, state=result.state, parent_id=current.id,
                                 source="loop")
        return current.state

    def _save(self, thread_id: str, *, step: int, ran: tuple[str, ...], next: tuple[str, ...],
              state: State, parent_id: str | None, source: str) -> Checkpoint:
        checkpoint = Checkpoint(thread_id=thread_id, step=step, ran=ran, next=next, state=state,
                                created_at=self.clock(), parent_id=parent_id,
                                metadata={"source": source})
        return replace(checkpoint, id=self.store.save(checkpoint))
