"""Lab 07 — Capstone: the durable DevOps agent.

The seed's real case, all of it: an agent deploys a service in four steps (check status,
build config, apply, verify), ten minutes in all, and at minute 8 the server reboots.
Without state management the task is lost, the user does not know what happened, and the
restarted agent starts over and deploys twice. With it, the agent comes back, picks up
where it was, deploys once, and keeps to its ten minutes. Build that agent from your own
labs:

- **lab 01** — its LLM calls retry transient failures with backoff (through lab 03);
- **lab 02** — every side-effecting tool call carries ``idempotency_key(task_id, name,
  arguments)``, which the DevOps server honours, so a call resent after a crash is not
  done twice;
- **lab 03** — the run has a deadline, ``max_wall_time`` after the task was *created*, so
  a restart keeps the original deadline instead of a fresh budget; every LLM request goes
  through ``call_llm`` with it;
- **lab 04** — the task (its state, result, error and creation time) lives in a
  ``SqliteStore``, so another process can read it at any moment;
- **lab 05** — the conversation is a state with ``add_messages`` as its reducer, run as a
  graph of two nodes (the model, then the tools it asked for);
- **lab 06** — every step is a checkpoint in a ``SqliteCheckpointStore``: a restarted run
  resumes from the latest one, and the run can be replayed from any.

And one new thing: **one runner at a time.** Two processes that run the same task at once
must not both run it. A lock that dies with its holder does it: ``fcntl.flock`` on a file
per task, taken without waiting (``LOCK_EX | LOCK_NB``); the kernel releases it when the
process ends, however it ends, so a runner killed with SIGKILL never blocks the next. The
loser raises :class:`AlreadyRunning`.

Everything the agent keeps lives under its ``folder``; a fresh :class:`DurableAgent` on
the same folder, in another process, sees all of it. This lab is graded on *your* labs 01
to 06 together, by design: when an item is not done, its hint says which earlier lab the
trouble most likely comes from.

Given: :class:`AlreadyRunning` and :class:`Status`. Complete every method that raises
``NotImplementedError``; keep the names and signatures. Time: read it only through
``clock`` (seconds since the epoch: a deadline must mean the same in the next process,
which a monotonic clock does not) and wait only with ``sleep``.
"""

from __future__ import annotations

import fcntl  # noqa: F401 - for your solution
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openai import OpenAI

from labs.kit.agent import assistant_message, for_the_api, start_messages, tool_message  # noqa: F401
from labs.kit.devops import SIDE_EFFECTS, DevOpsTools  # noqa: F401
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.graph import END, Graph  # noqa: F401 - for your solution
from labs.kit.tasks import Task, TaskState  # noqa: F401 - for your solution
from labs.lab01_retry import RetryPolicy
from labs.lab02_idempotency import TaskNotFound, idempotency_key  # noqa: F401
from labs.lab03_deadlines import Deadline, call_llm  # noqa: F401 - for your solution
from labs.lab04_persistence import SqliteStore  # noqa: F401 - for your solution
from labs.lab05_reducers import StateSchema, add_messages  # noqa: F401 - for your solution
from labs.lab06_checkpoints import CheckpointedGraph, SqliteCheckpointStore  # noqa: F401

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class AlreadyRunning(RuntimeError):
    """Another process is running this task right now. Given."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} is already being run by another process")
        self.task_id = task_id


@dataclass(frozen=True)
class Status:
    """What anyone can read of a task, from any process, at any moment. Given.

    ``state`` is the task's state as text; ``step`` the step number of its latest
    checkpoint (0 before the first step); ``deadline_at`` when its time runs out, in
    seconds since the epoch.
    """

    task_id: str
    state: str
    step: int
    deadline_at: float
    result: str | None = None
    error: str | None = None


class DurableAgent:
    """The deploy agent of the seed's real case, built from labs 01 to 06."""

    def __init__(self, folder: str | os.PathLike[str], client: OpenAI, tools: DevOpsTools, *,
                 clock: Clock = time.time, sleep: Sleep = time.sleep,
                 policy: RetryPolicy = RetryPolicy(), max_wall_time: float = 600.0,
                 step_timeout: float = 60.0, model: str = DEFAULT_MODEL) -> None:
        """Keep the settings, and open (creating ``folder`` if needed) the task store
        ``folder/tasks.db`` (lab 04's ``SqliteStore``) and the checkpoint store
        ``folder/checkpoints.db`` (lab 06's ``SqliteCheckpointStore``). The state's schema
        has one key, ``messages``, with lab 05's ``add_messages``."""
        raise NotImplementedError("DurableAgent.__init__")

    def start(self, task_id: str, goal: str) -> None:
        """Save a new pending task ``task_id`` for ``goal``, created now (``clock()``):
        its deadline is ``created_at + max_wall_time``, whatever happens later."""
        raise NotImplementedError("DurableAgent.start")

    def run(self, task_id: str) -> str:
        """Run the task to its end, from wherever it was left; its final answer.

        - Hold the task's lock for the whole run (another process holding it:
          :class:`AlreadyRunning`).
        - Unknown task: lab 02's ``TaskNotFound``. Completed: its result, nothing run.
        - Otherwise save it running, and run the graph with lab 06's
          ``CheckpointedGraph`` on the checkpoint store, the thread being the task id:
          ``run(task_id, {"messages": [...]})`` the first time (the task's
          ``start_messages``, each given an id of your choice), ``resume(task_id)`` when
          the thread has checkpoints already.
        - The graph: node ``"agent"`` asks the model with lab 03's ``call_llm``
          (``for_the_api(messages)``, the task's deadline as a lab 03 ``Deadline`` on
          ``clock``, ``step_timeout``, ``policy``, ``sleep``, ``model``) and returns the
          reply as ``assistant_message(...)`` with ``"id"`` the completion's id; then,
          if the reply asked for tools, node ``"tools"`` runs each call with
          ``tools.execute(name, arguments, idempotency_key=...)`` (the lab 02 key for a
          tool in ``SIDE_EFFECTS``, None for a read) and returns the ``tool_message``\\ s
          (each with an id), and the model is asked again; no tool calls: the end.
        - Nothing runs past the deadline: node ``"tools"`` checks it first
          (``Deadline.check()``), so a run restarted after the deadline makes no side
          effect, not even one it had not made before it died.
        - At the end save the task completed with the last message's text as its result,
          and return it. If anything raises, save the task failed with ``error`` =
          ``"<ExceptionType>: <message>"`` (a passed deadline is lab 03's
          ``DeadlineExceeded``) and re-raise it.
        """
        raise NotImplementedError("DurableAgent.run")

    def status(self, task_id: str) -> Status:
        """The task as saved, readable while another process runs it: its state, the step
        of its latest checkpoint, its deadline, result and error. Unknown: ``TaskNotFound``."""
        raise NotImplementedError("DurableAgent.status")

    def history(self, task_id: str) -> list[Any]:
        """The run's checkpoints, newest first."""
        raise NotImplementedError("DurableAgent.history")

    def replay(self, task_id: str, checkpoint_id: str) -> str:
        """Run the task again from one of its checkpoints (lab 06's ``resume_from``),
        holding its lock; the answer that run comes to. A replay is a new run of an old
        history: its deadline is ``max_wall_time`` from now. Side effects go with the same
        keys, so the server answers them from its record."""
        raise NotImplementedError("DurableAgent.replay")
