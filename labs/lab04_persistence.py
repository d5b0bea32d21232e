"""Lab 04 — Persistence and resume.

The seed's real case: a deploy takes ten minutes, and at minute 8 the server reboots. An
agent that keeps its state in memory (the seed's mistake 4) comes back knowing nothing,
starts over, and deploys twice. Make the agent's state outlive its process:

1. **Two stores, one contract** (the kit's ``TaskStore``: ``get``, ``save``,
   ``compare_and_set``). :class:`JsonFileStore` keeps every task in one JSON file and
   replaces it *atomically* on each save: write a temporary file in the same folder, flush
   and ``fsync`` it, then ``os.replace`` it over the old one, so a crash at any moment
   leaves either the old file or the new one, never half of one. :class:`SqliteStore`
   keeps them in a SQLite database (WAL mode, one connection per thread, timestamps passed
   from Python: SQLite's own clock knows nothing of a frozen one), and threads that write
   at the same time lose no update.
2. **Bad input is loud.** A store file that is truncated, garbled or not a store raises
   :class:`StoreCorrupted` naming the file. It is never read as an empty store, and
   nothing is written over it.
3. **Resume** (the seed's step 6): :func:`resume_task` brings a task to its end from
   wherever its saved state says it is, saving after every step, so that a crash at any
   moment loses at most the step in flight.

Exactly once across a crash needs one more thing: a crash can fall *after* a tool changed
the world and *before* the agent saved that it did. The kit's DevOps server honours an
idempotency key sent with a call, as payment APIs do, so send each side-effecting call
with lab 02's ``idempotency_key(task_id, name, arguments)``: the same call, resent after
a restart, is answered from the server's record instead of running again.

This lab builds on lab 02 (``TaskNotFound``, ``idempotency_key``); the grader uses the
reference lab 02 here, so a mistake there is not counted twice.

Given (nothing to complete): :class:`StoreCorrupted`, and from the kit ``Task`` (with
``to_dict`` / ``from_dict`` and the conversation in ``messages``), ``TaskState``, the
message helpers of ``labs.kit.agent`` and ``DevOpsTools``. Complete every method and
function that raises ``NotImplementedError``; keep the names and signatures.

Time: timestamps come from the ``now`` you are given, never from ``time.time()`` itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any  # noqa: F401 - for your solution

from openai import OpenAI

from labs.kit.agent import Message, assistant_message, start_messages, tool_message  # noqa: F401
from labs.kit.devops import SIDE_EFFECTS, TOOL_SCHEMAS, DevOpsTools  # noqa: F401
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.tasks import Task, TaskState, TaskStore
from labs.lab02_idempotency import TaskNotFound, idempotency_key  # noqa: F401

Clock = Callable[[], float]

#: The version of the JSON file's layout; another one is refused, not guessed at.
FORMAT = 1


class StoreCorrupted(Exception):
    """A store's file is unreadable: truncated, garbled, or not a store at all. Given.

    Its message starts with the file's path; ``path`` holds it too.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: the task store cannot be read ({reason})")
        self.path = os.fspath(path)


class JsonFileStore:
    """Every task in one JSON file, replaced whole and atomically on each save.

    The file holds ``{"format": FORMAT, "tasks": {task_id: task.to_dict(), ...}}``. Every
    operation reads the file afresh, so a fresh store on the same path (after a restart)
    sees exactly what was saved, every field and timestamp intact. Operations from several
    threads of one process are serialised with a lock.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Keep ``path``. A missing file is an empty store (created on the first save);
        an existing one is read at once, so a corrupted file raises :class:`StoreCorrupted`
        here."""
        raise NotImplementedError("JsonFileStore.__init__")

    def get(self, task_id: str) -> Task | None:
        """The task saved under ``task_id``, or None. A file that cannot be read, does not
        parse, has another format or holds an invalid task raises :class:`StoreCorrupted`
        naming the file (never an empty answer)."""
        raise NotImplementedError("JsonFileStore.get")

    def save(self, task: Task) -> None:
        """Store ``task`` (replacing the one with its id) and write the whole file
        atomically: a temporary file in the same folder, written, flushed and fsynced, then
        ``os.replace`` over the old file. If anything fails on the way, the old file is
        untouched, the temporary file is removed and the error propagates. A corrupted file
        raises :class:`StoreCorrupted` and is left as it is."""
        raise NotImplementedError("JsonFileStore.save")

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        """Store ``task`` only if its stored version is in state ``expected`` (read and
        write under the store's lock); True when stored."""
        raise NotImplementedError("JsonFileStore.compare_and_set")


class SqliteStore:
    """Tasks in a SQLite database, one row per task.

    - One connection per thread (``sqlite3`` connections must not be shared between
      threads), in WAL mode, with a busy timeout, so that writers from several threads
      wait for each other instead of failing with "database is locked".
    - Every write is its own transaction: committed when the method returns.
    - Timestamps are stored as the floats they are (REAL), the state as its text, the
      conversation as JSON text; a row reads back as the same :class:`Task`.
    - ``compare_and_set`` is one ``UPDATE ... WHERE id = ? AND state = ?``: the row count
      says whether it was stored.
    - A file that is not a SQLite database (or a row that is not a task) raises
      :class:`StoreCorrupted` naming the file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (or create) the database at ``path`` and its table."""
        raise NotImplementedError("SqliteStore.__init__")

    def get(self, task_id: str) -> Task | None:
        """The task saved under ``task_id``, or None."""
        raise NotImplementedError("SqliteStore.get")

    def save(self, task: Task) -> None:
        """Insert or replace the task's row, and commit."""
        raise NotImplementedError("SqliteStore.save")

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        """Replace the row only if its state is ``expected``; True when replaced."""
        raise NotImplementedError("SqliteStore.compare_and_set")

    def close(self) -> None:
        """Close every connection this store opened."""
        raise NotImplementedError("SqliteStore.close")


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
    """Bring the task to its end from wherever its saved state says it is; its answer.

    The seed's ``resumeTask``, for an agent whose conversation is saved in the task:

    - Unknown ``task_id``: raise lab 02's ``TaskNotFound``.
    - Completed: return the stored result. No LLM request, no tool, no save.
    - Failed: reset it first: state pending, ``error`` None, saved. Then go on as below.
    - Pending or running (a run that was cut off): save it running, with ``messages``
      set to ``start_messages(task.user_input)`` if it has none yet, and continue from the
      saved conversation:

      1. If the last message is an assistant message without tool calls, that was the
         answer: save the task completed with it as ``result`` and return it.
      2. Run the tool calls of the last assistant message that have no tool reply yet
         (matched by ``tool_call_id``), in order, with
         ``tools.execute(name, arguments, idempotency_key=...)``: for a tool in
         ``SIDE_EFFECTS`` the key is ``idempotency_key(task_id, name, arguments)``, for a
         read-only tool None. Append each reply with ``tool_message`` and save at once.
      3. Unless ``max_turns`` assistant messages are already saved (then raise
         RuntimeError), ask the model: ``client.chat.completions.create(model=model,
         messages=<the saved conversation>, tools=list(TOOL_SCHEMAS))``; append the reply
         with ``assistant_message``, save at once, and go back to 1.

    Every save sets ``updated_at`` to ``now()``. A turn already saved is never asked for
    again and a tool reply already saved is never run again: resuming a run cut off after
    k steps continues at step k, and ends as an uninterrupted run would. If anything raises
    an ``Exception`` on the way, save the task failed (``error`` =
    ``"<ExceptionType>: <message>"``, the conversation kept) and re-raise it.
    """
    raise NotImplementedError("resume_task")
