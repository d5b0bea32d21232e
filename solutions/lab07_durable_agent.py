"""Lab 07 — Capstone: the durable DevOps agent (reference solution).

The contract is the stub's, ``labs/lab07_durable_agent.py``; read it there.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from openai import OpenAI

from labs.kit.agent import assistant_message, for_the_api, start_messages, tool_message
from labs.kit.devops import SIDE_EFFECTS, DevOpsTools
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.graph import END, Graph, Patch, State
from labs.kit.tasks import Task, TaskState
from labs.lab01_retry import RetryPolicy
from labs.lab02_idempotency import TaskNotFound, idempotency_key
from labs.lab03_deadlines import Deadline, call_llm
from labs.lab04_persistence import SqliteStore
from labs.lab05_reducers import StateSchema, add_messages
from labs.lab06_checkpoints import CheckpointedGraph, SqliteCheckpointStore

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class AlreadyRunning(RuntimeError):
    """Another process is running this task right now."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} is already being run by another process")
        self.task_id = task_id


@dataclass(frozen=True)
class Status:
    """What anyone can read of a task, from any process, at any moment."""

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
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.client, self.tools = client, tools
        self.clock, self.sleep, self.policy = clock, sleep, policy
        self.max_wall_time, self.step_timeout, self.model = max_wall_time, step_timeout, model
        self.tasks = SqliteStore(self.folder / "tasks.db")
        self.checkpoints = SqliteCheckpointStore(self.folder / "checkpoints.db")
        self.schema = StateSchema().register("messages", add_messages)

    def start(self, task_id: str, goal: str) -> None:
        """Save a new pending task; its deadline counts from now."""
        now = self.clock()
        self.tasks.save(Task(id=task_id, user_input=goal, created_at=now, updated_at=now))

    def run(self, task_id: str) -> str:
        """Run the task to its end, resuming wherever it was left; the final answer."""
        with self._only_runner(task_id):
            task = self.tasks.get(task_id)
            if task is None:
                raise TaskNotFound(task_id)
            if task.state is TaskState.COMPLETED:
                return task.result or ""
            task = self._save(task, state=TaskState.RUNNING, error=None)
            runner = self._runner(task)
            try:
                if self.checkpoints.latest(task_id) is None:
                    first = [{**m, "id": f"{task_id}:{n}"}
                             for n, m in enumerate(start_messages(task.user_input))]
                    state = runner.run(task_id, {"messages": first})
                else:
                    state = runner.resume(task_id)
            except Exception as error:
                self._save(task, state=TaskState.FAILED, error=f"{type(error).__name__}: {error}")
                raise
            answer = _answer(state)
            self._save(task, state=TaskState.COMPLETED, result=answer)
            return answer

    def status(self, task_id: str) -> Status:
        """The task's state and current step, as saved."""
        task = self.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        latest = self.checkpoints.latest(task_id)
        return Status(task_id=task_id, state=task.state.value,
                      step=latest.step if latest is not None else 0,
                      deadline_at=task.created_at + self.max_wall_time,
                      result=task.result, error=task.error)

    def history(self, task_id: str) -> list[Any]:
        """The run's checkpoints, newest first."""
        return self.checkpoints.list(task_id)

    def replay(self, task_id: str, checkpoint_id: str) -> str:
        """Run the task again from one of its checkpoints; the answer it comes to."""
        with self._only_runner(task_id):
            task = self.tasks.get(task_id)
            if task is None:
                raise TaskNotFound(task_id)
            replayed = self._runner(task, Deadline(self.clock() + self.max_wall_time,
                                                   clock=self.clock))
            return _answer(replayed.resume_from(checkpoint_id))

    def _runner(self, task: Task, deadline: Deadline | None = None) -> CheckpointedGraph:
        deadline = deadline or Deadline(task.created_at + self.max_wall_time, clock=self.clock)
        graph = (Graph()
                 .add_node("agent", self._agent(deadline))
                 .add_node("tools", self._tool_calls(task.id, deadline))
                 .add_conditional_edges("agent", _route, ["tools", END])
                 .add_edge("tools", "agent")
                 .set_entry("agent"))
        return CheckpointedGraph(graph, self.schema, self.checkpoints, clock=self.clock)

    def _agent(self, deadline: Deadline) -> Any:
        def agent(state: State) -> Patch:
            completion = call_llm(self.client, for_the_api(state["messages"]), deadline=deadline,
                                  step_timeout=self.step_timeout, policy=self.policy,
                                  sleep=self.sleep, model=self.model)
            return {"messages": [{**assistant_message(completion.choices[0].message),
                                  "id": completion.id}]}

        return agent

    def _tool_calls(self, task_id: str, deadline: Deadline) -> Any:
        def tools(state: State) -> Patch:
            deadline.check()  # a restart past the deadline does nothing more, not even a tool
            calls = state["messages"][-1].get("tool_calls") or []
            results = []
            for call in calls:
                name, arguments = call["function"]["name"], call["function"]["arguments"]
                key = idempotency_key(task_id, name, arguments) if name in SIDE_EFFECTS else None
                reply = self.tools.execute(name, arguments, idempotency_key=key)
                results.append({**tool_message(call["id"], reply), "id": f"{call['id']}:result"})
            return {"messages": results}

        return tools

    def _save(self, task: Task, **changes: Any) -> Task:
        task = replace(task, **changes, updated_at=self.clock())
        self.tasks.save(task)
        return task

    @contextmanager
    def _only_runner(self, task_id: str) -> Iterator[None]:
        """Hold the task's lock while running it. The kernel lets it go when the process
        ends, however it ends: a killed runner never blocks the next one."""
        locks = self.folder / "locks"
        locks.mkdir(exist_ok=True)
        with open(locks / f"{task_id.encode().hex()}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyRunning(task_id) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _route(state: State) -> str:
    return "tools" if state["messages"][-1].get("tool_calls") else END


def _answer(state: State) -> str:
    return state["messages"][-1].get("content") or ""
