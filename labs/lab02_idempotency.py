"""Lab 02 — Idempotent tasks.

A retry sends the same request again; a restarted agent runs the same task again; a model
asks for the same tool call twice. For a question that is harmless. For ``apply_deploy``
it is a second deploy. Make repeated work safe, at two levels:

1. **Tasks** (the seed's steps 1 and 2). A task is saved at every change of state
   (pending → running → completed, or failed), and executing a task that has already
   completed returns its stored result without running anything.
2. **Tool calls.** Every side-effecting tool call gets an idempotency key derived from the
   task and the call itself (tool name and canonical arguments, never the model's
   ``tool_call_id``, the time or a random number). The first call under a key runs; a
   later one gets the stored result. Reusing a key with other parameters is a conflict
   (Stripe's rule), and a call that failed is not stored, so it can be tried again.

Both levels must hold under concurrency: two executors that start the same task, or the
same keyed call, at the same moment must run the work once. "Read the state, then write
it" leaves a gap in which both read "not done yet". Use the stores' atomic operations
instead: :meth:`TaskStore.compare_and_set <labs.kit.tasks.TaskStore.compare_and_set>` and
:meth:`KeyStore.put_if_absent <labs.kit.keystore.KeyStore.put_if_absent>`. The executor
that loses the race does not run the work: it gets the result if it is already there, or
an "in progress" error (:class:`TaskInProgress`, :class:`KeyInProgress`).

Given (nothing to complete): the exceptions below; from the kit, :class:`~labs.kit.tasks.Task`,
:class:`~labs.kit.tasks.TaskState`, the stores (``MemoryTaskStore``, ``MemoryKeyStore``),
the DevOps tools and the agent loop (``labs.kit.agent.run_agent``). Complete every function
and method that raises ``NotImplementedError``; keep the names and signatures.

Time: timestamps come from the ``now`` you are given (seconds since the epoch), never from
``time.time()`` or ``datetime.now()`` directly. A stamp is ``now()`` as read, fractions of a
second included: no rounding, no ``int()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from labs.kit.devops import SIDE_EFFECTS, DevOpsTools  # noqa: F401 - for your solution
from labs.kit.keystore import KeyRecord, KeyStore  # noqa: F401 - for your solution
from labs.kit.tasks import Task, TaskState, TaskStore  # noqa: F401 - for your solution

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


def create_task(store: TaskStore, user_input: str, *, now: Clock = time.time) -> Task:
    """Save a new pending task for ``user_input`` and return it.

    - The id is new and unique, even for two tasks created in the same instant (a frozen
      clock makes every instant the same), and even when the process's ``random`` module
      is seeded again before each ``create_task`` (the notebook and lab 01 seed it to make
      runs reproducible): never build it from the time or from ``random``. ``uuid4`` will
      do.
    - ``state`` is pending; ``created_at`` and ``updated_at`` are both one reading of
      ``now()`` (read the clock once: a clock may move on at every reading).
    - The task is saved to ``store`` before it is returned.
    """
    raise NotImplementedError("create_task")


def execute_task(store: TaskStore, task_id: str, work: Work, *, now: Clock = time.time) -> str:
    """Run ``work`` for the task unless it has already completed; return its result.

    - Unknown ``task_id``: raise :class:`TaskNotFound` (it names the id); save nothing.
      Ids are compared exactly as given: no Unicode normalisation (NFKC, NFC) and no
      casefold, so an id whose normalised form is stored is still unknown.
    - Completed: return the stored result (which may be ``""``: completed is the state,
      not a non-empty result); do not call ``work``, save nothing. The stored state
      decides: a task stored completed is done, whatever else it carries (an error text
      left over included, and its ``messages``, whatever their last message or none).
    - Running (another executor has it): raise :class:`TaskInProgress`.
    - Pending or failed: claim it by saving it as running (``error`` cleared, ``updated_at``
      = ``now()``) with ``store.compare_and_set(running, expected=<the state you read>)``.
      The claim changes only the state, the error and ``updated_at``: ``messages`` and
      every other field are kept as the task you read holds them.
      If that returns False, someone else claimed it first: return the result if the task
      is completed by now, else raise :class:`TaskInProgress`. Never call ``work`` then.
    - Call ``work(running_task)``. On success save the task completed with the result (its
      ``state`` the ``TaskState`` member itself, not its text, so that the state
      comparisons of any store find it completed again); if ``work`` raises any
      ``Exception`` (this lab's own included: a work that executes a sub-task or makes a
      keyed call may raise :class:`TaskNotFound`, :class:`TaskInProgress`,
      :class:`KeyInProgress` or :class:`IdempotencyConflict`, and that is its failure
      too), save it failed with ``error`` set to
      ``"<ExceptionType>: <message>"`` of that exception (the one ``work`` raised, not
      what it was raised from; ``<ExceptionType>`` is its class's ``__name__``, whatever
      the class, an ``ExceptionGroup`` included: its own text, not a sub-exception's;
      ``<message>`` is ``str(exception)`` exactly, non-ASCII characters kept as they are,
      no escaping, and nothing added: no notes from ``add_note()``, no traceback lines) and
      re-raise the exception itself. A failed task executed again that fails again
      records only this run's error. Either way ``updated_at`` = ``now()`` after the work;
      ``created_at`` never changes.

    Every change of state is saved as it happens, so the store always tells what is going
    on: ``pending`` (created), ``running``, then ``completed`` or ``failed``.
    """
    raise NotImplementedError("execute_task")


def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:
    """One text for every way of writing the same arguments.

    ``arguments`` is the model's JSON text (an empty string means no arguments, as
    ``"{}"`` does) or a mapping. The same arguments give the same text whatever their key
    order and spacing, at every depth: ``'{"b": 1, "a": {"y": 2, "x": 3}}'`` and
    ``'{"a":{"x":3,"y":2},"b":1}'`` are one. Only the order of an object's keys is free: a
    list's order, and every character of a string, are part of the arguments. (JSON with
    sorted keys and no spaces does it.) Any JSON value is canonicalised as itself: a JSON
    text that is a string, a list or a number is that value (a string is not decoded
    again, even when it spells an object).
    """
    raise NotImplementedError("canonical_arguments")


def idempotency_key(task_id: str, tool_name: str, arguments: str | Mapping[str, Any]) -> str:
    """The idempotency key of one tool call within one task, as a string.

    Derived only from ``task_id``, ``tool_name`` and the canonical arguments, so the same
    call gets the same key in any process, at any time, whatever ``tool_call_id`` the model
    gave it; another task, tool or argument gives another key. Not ``hash()`` (it changes
    from one process to the next), not the time, not a random number: a digest such as
    SHA-256 of the three parts, kept apart so that no two different calls run together.
    """
    raise NotImplementedError("idempotency_key")


def run_once(keys: KeyStore, key: str, params: str, action: Callable[[], str]) -> str:
    """Run ``action`` at most once under ``key``, and return its result.

    ``params`` is the canonical text of the parameters the caller sends with the key: any
    Unicode text, non-ASCII characters included (compare params with ``==``).

    - Claim the key atomically with ``keys.put_if_absent(KeyRecord(key, params))``, the
      params as given (``""`` stays ``""``). The claim is only what ``put_if_absent``
      says: two ``KeyStore`` objects may share one table (another handle, another
      process), so a lock of your own cannot stand in for the atomic claim.
    - If the key was already there, in this order: with other ``params`` (an empty text
      is params too: ``""`` and ``"{}"`` are two params texts), raise
      :class:`IdempotencyConflict` (never return the old result for new parameters), even
      while it is still running; still running, raise :class:`KeyInProgress`; done,
      return the stored result without calling ``action``.
    - Otherwise call ``action()``. On success store the record as done with the result and
      return the result. If it raises (anything), delete the key so that a later call runs
      the action again, and re-raise: a failure is never stored as a result, whatever the
      exception carries (an ``output`` or ``stdout``, as ``subprocess.CalledProcessError``
      has, included). After a failure the key is gone: the same key with other ``params`` then runs (no conflict),
      and two callers retrying a failed key at once run the action once.
    """
    raise NotImplementedError("run_once")


class IdempotentTools:
    """The tool executor of one task: side-effecting calls run at most once.

    Pass an instance as the ``execute`` of ``labs.kit.agent.run_agent``: it is called as
    ``tools_for_task(name, arguments_json)`` for every tool call the model makes.
    """

    def __init__(self, tools: DevOpsTools, keys: KeyStore, task_id: str) -> None:
        """Keep the tools, the key store and the id of the task the calls belong to."""
        raise NotImplementedError("IdempotentTools.__init__")

    def __call__(self, name: str, arguments: str) -> str:
        """Run the tool call ``name(arguments)`` and return the tool's reply.

        - A read-only tool (not in ``SIDE_EFFECTS``) runs every time: a second
          ``check_disk`` must see what changed since the first. Any tool not in
          ``SIDE_EFFECTS`` is a read, whatever its name (a tools object may have reads of
          its own), and runs each time it is asked, the same read with the same arguments
          twice in a row included: the world may change without this executor.
        - A side-effecting tool runs through :func:`run_once` under
          ``idempotency_key(task_id, name, arguments)``, with a text made of the tool name
          and the canonical arguments as ``params`` (how you join them is up to you); run
          it with ``tools.execute(name, arguments)``. Every tool in ``SIDE_EFFECTS``
          counts, and the reply is returned as the tool gave it.
          Two calls that differ only in ``tool_call_id``, key order or spacing run once
          and both get the same reply. Arguments may hold any Unicode text.
        - A failing call leaves the other calls' keys as they are: a repeat of a call that
          succeeded earlier in the task is answered from the store, even after another
          call failed.
        """
        raise NotImplementedError("IdempotentTools.__call__")
