"""Lab 07's mutants: the mistakes a student makes putting the durable agent together."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab07 = mutants_of("lab07")

_LOCK = """\
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyRunning(task_id) from None
"""
_CALL = """\
            completion = call_llm(self.client, for_the_api(state["messages"]), deadline=deadline,
                                  step_timeout=self.step_timeout, policy=self.policy,
                                  sleep=self.sleep, model=self.model)"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab07.exactly-once-under-kill
    _lab07(
        "deploy-without-a-key",
        "lab07.exactly-once-under-kill",
        "sends the tool calls to the server without their idempotency keys: a deploy cut off "
        "before its result was saved is applied again after the restart",
        ("reply = self.tools.execute(name, arguments, idempotency_key=key)",
         "reply = self.tools.execute(name, arguments)"),
    ),
    _lab07(
        "key-unique-per-process",
        "lab07.exactly-once-under-kill",
        "adds the process id to the key 'so that two runs never collide': the restarted "
        "process resends the call under another key",
        ("key = idempotency_key(task_id, name, arguments) if name in SIDE_EFFECTS else None",
         "key = f\"{idempotency_key(task_id, name, arguments)}:{os.getpid()}\" "
         "if name in SIDE_EFFECTS else None"),
    ),
    _lab07(
        "tool-results-share-an-id",
        "lab07.exactly-once-under-kill",
        "gives every tool result the same id, the task's: add_messages takes each new result "
        "for an edit of the one before, and the model is told only the latest",
        ("results.append({**tool_message(call[\"id\"], reply), \"id\": f\"{call['id']}:result\"})",
         "results.append({**tool_message(call[\"id\"], reply), \"id\": f\"{task_id}:result\"})"),
    ),
    _lab07(
        "completed-run-returns-nothing",
        "lab07.exactly-once-under-kill",
        "returns an empty answer for a task already completed: 'there is nothing left to run'",
        ("                return task.result or \"\"", "                return \"\""),
    ),
    # -- lab07.transient-llm-retried
    _lab07(
        "llm-called-directly",
        "lab07.transient-llm-retried",
        "asks the model with the bare client: the first 503 fails the task",
        (_CALL,
         "            deadline.check()\n"
         "            completion = self.client.with_options(max_retries=0).chat.completions."
         "create(\n"
         "                model=self.model, messages=for_the_api(state[\"messages\"]),\n"
         "                tools=list(TOOL_SCHEMAS), timeout=deadline.timeout(self.step_timeout))"),
        ("from labs.kit.devops import SIDE_EFFECTS, DevOpsTools",
         "from labs.kit.devops import SIDE_EFFECTS, TOOL_SCHEMAS, DevOpsTools"),
    ),
    _lab07(
        "default-policy",
        "lab07.transient-llm-retried",
        "hands call_llm a fresh RetryPolicy() instead of the one the agent was given",
        ("step_timeout=self.step_timeout, policy=self.policy,",
         "step_timeout=self.step_timeout, policy=RetryPolicy(),"),
    ),
    _lab07(
        "model-left-at-its-default",
        "lab07.transient-llm-retried",
        "leaves out call_llm's model, since its default is the agent's default anyway: an "
        "agent made for another model still asks gpt-4o-mini",
        ("                                  sleep=self.sleep, model=self.model)",
         "                                  sleep=self.sleep)"),
    ),
    _lab07(
        "one-attempt-policy",
        "lab07.transient-llm-retried",
        "passes call_llm a policy of one attempt: no retry at all",
        ("step_timeout=self.step_timeout, policy=self.policy,",
         "step_timeout=self.step_timeout, policy=RetryPolicy(max_attempts=1),"),
    ),
    # -- lab07.deadline-survives-restart
    _lab07(
        "deadline-reset-on-restart",
        "lab07.deadline-survives-restart",
        "computes the deadline from now each time the task is run: a restart gets a fresh "
        "ten minutes",
        ("        deadline = deadline or Deadline(task.created_at + self.max_wall_time, "
         "clock=self.clock)",
         "        deadline = deadline or Deadline(self.clock() + self.max_wall_time, "
         "clock=self.clock)"),
    ),
    _lab07(
        "deadline-only-before-the-model",
        "lab07.deadline-survives-restart",
        "checks the deadline only where the model is asked (call_llm does it): a run "
        "restarted past the deadline still makes the tool calls its last checkpoint holds",
        ("            deadline.check()  # a restart past the deadline does nothing more, not "
         "even a tool\n", ""),
    ),
    _lab07(
        "failure-saved-not-raised",
        "lab07.deadline-survives-restart",
        "saves the task failed and returns an empty answer instead of re-raising: the caller "
        "of run() never hears that the deadline passed",
        ("error=f\"{type(error).__name__}: {error}\")\n                raise\n",
         "error=f\"{type(error).__name__}: {error}\")\n                return \"\"\n"),
    ),
    _lab07(
        "no-deadline-at-all",
        "lab07.deadline-survives-restart",
        "gives the model calls a deadline so far away that it never comes",
        ("        deadline = deadline or Deadline(task.created_at + self.max_wall_time, "
         "clock=self.clock)",
         "        deadline = deadline or Deadline(float('inf'), clock=self.clock)"),
    ),
    # -- lab07.status-visible
    _lab07(
        "state-saved-only-at-the-end",
        "lab07.status-visible",
        "keeps the task 'pending' in the store until the run is over",
        ("            task = self._save(task, state=TaskState.RUNNING, error=None)",
         "            task = replace(task, state=TaskState.RUNNING, error=None)"),
    ),
    _lab07(
        "folder-made-without-parents",
        "lab07.status-visible",
        "makes the agent's folder with a plain mkdir: a folder whose parent is not there yet "
        "is never made",
        ("self.folder.mkdir(parents=True, exist_ok=True)", "self.folder.mkdir(exist_ok=True)"),
    ),
    _lab07(
        "unknown-task-is-a-key-error",
        "lab07.status-visible",
        "raises KeyError for a task the store does not have, as a dict would, instead of "
        "lab 02's TaskNotFound",
        ("        if task is None:\n            raise TaskNotFound(task_id)\n        latest",
         "        if task is None:\n            raise KeyError(task_id)\n        latest"),
    ),
    _lab07(
        "status-step-from-memory",
        "lab07.status-visible",
        "reports the step this process has counted, which another process never sees",
        ("                      step=latest.step if latest is not None else 0,",
         "                      step=getattr(self, 'steps_run', 0),"),
    ),
    # -- lab07.single-runner
    _lab07(
        "no-lock",
        "lab07.single-runner",
        "runs the task whoever else is running it",
        (_LOCK, ""),
    ),
    _lab07(
        "lock-between-threads-only",
        "lab07.single-runner",
        "guards the run with a threading.Lock, which another process never sees",
        (_LOCK,
         "            import threading\n"
         "            if not self.__dict__.setdefault('_busy', threading.Lock()).acquire("
         "blocking=False):\n"
         "                raise AlreadyRunning(task_id)\n"),
    ),
    # -- lab07.replayable-history
    _lab07(
        "replay-resumes-the-latest",
        "lab07.replayable-history",
        "'replay' goes on from the latest checkpoint whatever checkpoint it is given",
        ("            return _answer(replayed.resume_from(checkpoint_id))",
         "            return _answer(replayed.resume(task_id))"),
    ),
    _lab07(
        "checkpoints-on-the-machine-clock",
        "lab07.replayable-history",
        "leaves the checkpointed graph on its default clock, time.time: the checkpoints are "
        "stamped with the machine's time, not the agent's",
        ("CheckpointedGraph(graph, self.schema, self.checkpoints, clock=self.clock)",
         "CheckpointedGraph(graph, self.schema, self.checkpoints)"),
    ),
    _lab07(
        "replay-deadline-on-monotonic",
        "lab07.replayable-history",
        "gives the replay lab 03's Deadline.after(max_wall_time), whose clock is "
        "time.monotonic unless told otherwise, not the agent's clock",
        ("            replayed = self._runner(task, Deadline(self.clock() + self.max_wall_time,\n"
         "                                                   clock=self.clock))",
         "            replayed = self._runner(task, Deadline.after(self.max_wall_time))"),
    ),
    _lab07(
        "replay-with-the-old-deadline",
        "lab07.replayable-history",
        "replays under the original run's deadline, long gone",
        ("            replayed = self._runner(task, Deadline(self.clock() + self.max_wall_time,\n"
         "                                                   clock=self.clock))",
         "            replayed = self._runner(task)"),
    ),
)
