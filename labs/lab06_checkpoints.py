"""Lab 06 — Checkpoints and time travel.

Lab 05 ran a graph step by step; when the process died, the run died with it. Here every
step leaves a *checkpoint* (langgraphgo's ``Checkpoint``, LangGraph's checkpointers): the
step's number, the nodes that ran and the nodes to run next, the state as the step left
it, when, and the checkpoint before it. With them a run can:

- **resume** where it stopped: after a node fails at step k, the thread goes on at step
  k, and the nodes of earlier steps (and their LLM requests) are not run again;
- **travel in time**: go on from an *earlier* checkpoint, which starts a new branch of
  the thread and leaves the original history as it was;
- **be corrected**: update the state at a checkpoint through the schema's reducers, as a
  new checkpoint, never by rewriting the old one.

Three stores keep one contract (the kit's ``CheckpointStore``: ``save``, ``load``,
``latest``, ``list``, ``delete``, ``clear``, per thread): in memory, one file per
checkpoint, and SQLite. Every checkpoint a store saves or hands out is a *copy*: changing
the live state, or a checkpoint you loaded, never changes what is stored. Ids come from
the store, as a database's row ids do: unique, and sorting (as strings) in the order the
checkpoints were saved, while a frozen clock gives every checkpoint the same time. So the
latest checkpoint is the one with the greatest id, never the one with the latest time.

This lab builds on lab 05: :class:`CheckpointedGraph` runs steps with your lab 05
``run_step`` and merges patches with its ``StateSchema`` (the grader uses the reference lab
05 here). Ephemeral keys never reach a checkpoint: ``run_step``'s ``state`` has none, and
an update is cleaned up too.

Given (nothing to complete): the two exceptions below, ``ID_DIGITS``, and from the kit
``Checkpoint`` (with ``to_dict`` / ``from_dict``) and ``CheckpointStore``. Complete every
method that raises ``NotImplementedError``; keep the names and signatures.
"""

from __future__ import annotations

import copy  # noqa: F401 - for your solution
import os
import threading  # noqa: F401 - for your solution
import time
from collections.abc import Callable

from labs.kit.checkpoints import Checkpoint, CheckpointStore
from labs.kit.graph import Graph, Patch, State
from labs.lab05_reducers import StateSchema, run_step  # noqa: F401 - for your solution

Clock = Callable[[], float]

#: Digits of a checkpoint id: ids are zero-padded counters (``"000000000007"``), so that
#: they sort as they count.
ID_DIGITS = 12


class CheckpointNotFound(LookupError):
    """No checkpoint has this id (or the thread has none). Given."""


class CheckpointCorrupted(Exception):
    """A stored checkpoint cannot be read; the message names where it is (the file, or the
    database and the checkpoint's id). Given."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: the checkpoint cannot be read ({reason})")
        self.where = where


class MemoryCheckpointStore:
    """Checkpoints in memory (langgraphgo's MemoryCheckpointStore), safe to share between
    threads.

    - ``save`` stores a deep copy of the checkpoint under the next id of a counter
      (``f"{n:0{ID_DIGITS}d}"``, from 1) and returns the id; the stored checkpoint's
      ``id`` field is that id.
    - ``load`` returns a deep copy, or raises :class:`CheckpointNotFound`.
    - ``list(thread_id, limit=None, before=None)``: the thread's checkpoints as deep
      copies, newest (greatest id) first; with ``before``, only ids smaller than it; at
      most ``limit``. ``latest`` is the first of that list, or None.
    - ``delete`` forgets one checkpoint, ``clear`` every checkpoint of a thread; neither
      complains about what is not there, and neither touches another thread.
    """

    def __init__(self) -> None:
        raise NotImplementedError("MemoryCheckpointStore.__init__")

    def save(self, checkpoint: Checkpoint) -> str:
        raise NotImplementedError("MemoryCheckpointStore.save")

    def load(self, checkpoint_id: str) -> Checkpoint:
        raise NotImplementedError("MemoryCheckpointStore.load")

    def latest(self, thread_id: str) -> Checkpoint | None:
        raise NotImplementedError("MemoryCheckpointStore.latest")

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        raise NotImplementedError("MemoryCheckpointStore.list")

    def delete(self, checkpoint_id: str) -> None:
        raise NotImplementedError("MemoryCheckpointStore.delete")

    def clear(self, thread_id: str) -> None:
        raise NotImplementedError("MemoryCheckpointStore.clear")


class FileCheckpointStore:
    """One JSON file per checkpoint under ``folder`` (langgraphgo's FileCheckpointStore).

    The same contract as :class:`MemoryCheckpointStore`, on disk: a fresh store on the
    same folder finds every checkpoint saved before, and its ids go on from the last one
    (keep the counter in a file of the folder). Write each file atomically (a temporary
    file in the same folder, then ``os.replace``). Keep thread ids out of file names as
    they are (they may hold any character): ``thread_id.encode().hex()`` is a safe folder
    name. A checkpoint file that does not parse raises :class:`CheckpointCorrupted` naming
    the file, from ``load``, ``list`` and ``latest``.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        raise NotImplementedError("FileCheckpointStore.__init__")

    def save(self, checkpoint: Checkpoint) -> str:
        raise NotImplementedError("FileCheckpointStore.save")

    def load(self, checkpoint_id: str) -> Checkpoint:
        raise NotImplementedError("FileCheckpointStore.load")

    def latest(self, thread_id: str) -> Checkpoint | None:
        raise NotImplementedError("FileCheckpointStore.latest")

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        raise NotImplementedError("FileCheckpointStore.list")

    def delete(self, checkpoint_id: str) -> None:
        raise NotImplementedError("FileCheckpointStore.delete")

    def clear(self, thread_id: str) -> None:
        raise NotImplementedError("FileCheckpointStore.clear")


class SqliteCheckpointStore:
    """Checkpoints as rows of a SQLite table (LangGraph's SqliteSaver, smaller).

    The same contract again. An ``INTEGER PRIMARY KEY AUTOINCREMENT`` column gives the
    ids' counter; an index on (thread, that column) keeps ``latest`` and ``list`` fast at
    tens of thousands of checkpoints. One connection per thread, in WAL mode, as in
    lab 04. A row that does not parse raises :class:`CheckpointCorrupted` naming the
    database and the checkpoint; a file that is not a database, naming the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        raise NotImplementedError("SqliteCheckpointStore.__init__")

    def save(self, checkpoint: Checkpoint) -> str:
        raise NotImplementedError("SqliteCheckpointStore.save")

    def load(self, checkpoint_id: str) -> Checkpoint:
        raise NotImplementedError("SqliteCheckpointStore.load")

    def latest(self, thread_id: str) -> Checkpoint | None:
        raise NotImplementedError("SqliteCheckpointStore.latest")

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        raise NotImplementedError("SqliteCheckpointStore.list")

    def delete(self, checkpoint_id: str) -> None:
        raise NotImplementedError("SqliteCheckpointStore.delete")

    def clear(self, thread_id: str) -> None:
        raise NotImplementedError("SqliteCheckpointStore.clear")

    def close(self) -> None:
        """Close every connection this store opened."""
        raise NotImplementedError("SqliteCheckpointStore.close")


class CheckpointedGraph:
    """A graph run that saves a checkpoint after every step, and can go back to any.

    Every checkpoint it saves has ``created_at = clock()`` and ``metadata["source"]``:
    ``"input"`` for a run's first, ``"loop"`` for a step's, ``"update"`` for an update's.
    """

    def __init__(self, graph: Graph, schema: StateSchema, store: CheckpointStore, *,
                 clock: Clock = time.time, max_steps: int = 25) -> None:
        """Keep the graph, the schema, the store, the clock and the step limit."""
        raise NotImplementedError("CheckpointedGraph.__init__")

    def run(self, thread_id: str, input: Patch) -> State:
        """Start the thread from ``input`` and run it to the end; the final state.

        First a step 0 checkpoint: ``ran`` empty, ``next`` the graph's entry nodes
        (sorted), the state ``schema.update(schema.init(), input)`` cleaned up, no
        parent. Then go on as :meth:`resume` does.
        """
        raise NotImplementedError("CheckpointedGraph.run")

    def resume(self, thread_id: str) -> State:
        """Go on from the thread's latest checkpoint to the end; the final state.

        While the current checkpoint has nodes to run next: run them as step
        ``current.step + 1`` with lab 05's ``run_step`` on its state, and save the result
        as the next checkpoint (``step``, ``ran``, ``next`` and ``state`` from the
        StepResult, ``parent_id`` the current checkpoint's id). A node that raises stops
        the run there, with nothing saved for that step. A latest checkpoint with nothing
        to run next is the end: return its state at once. No checkpoint at all:
        :class:`CheckpointNotFound`. More than ``max_steps`` steps: RecursionError.
        """
        raise NotImplementedError("CheckpointedGraph.resume")

    def resume_from(self, checkpoint_id: str) -> State:
        """Go on, as :meth:`resume` does, from the checkpoint ``checkpoint_id`` instead of
        the latest: time travel. The new checkpoints start a new branch (the first one's
        parent is ``checkpoint_id``) in the same thread; nothing saved before changes."""
        raise NotImplementedError("CheckpointedGraph.resume_from")

    def update_state(self, checkpoint_id: str, patch: Patch) -> str:
        """Save a new checkpoint: the one given, with ``patch`` applied through the
        schema's reducers (``schema.update``) and cleaned up; the same thread, step, ran
        and next; ``parent_id`` the checkpoint given. Returns its id. It becomes the
        thread's latest, so :meth:`resume` goes on from it."""
        raise NotImplementedError("CheckpointedGraph.update_state")

    def history(self, thread_id: str, *, limit: int | None = None,
                before: str | None = None) -> list[Checkpoint]:
        """The thread's checkpoints, newest first (the store's ``list``)."""
        raise NotImplementedError("CheckpointedGraph.history")
