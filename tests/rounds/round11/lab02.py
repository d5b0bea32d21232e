"""Round 11 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_CREATE = """\
    created = now()
    task = Task(
        id=f"task-{uuid.uuid4().hex}", user_input=user_input, created_at=created, updated_at=created
    )
"""
_LOOKUP = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
"""
_CLAIM_AND_RUN = """\
    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())
    if not store.compare_and_set(running, expected=task.state):
        current = store.get(task_id)
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
        raise TaskInProgress(task_id)
"""
_EXCEPT_WORK = "    except Exception as error:\n        failed = replace(\n"
_COMPLETED_SAVE = (
    "store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))"
)
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_CONFLICT_CHECK = "        if existing.params != params:\n"
_RELEASE = """\
    except BaseException:
        keys.delete(key)
        raise
"""
_EXECUTOR_INIT = """\
        self.tools = tools
        self.keys = keys
        self.task_id = task_id
"""
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    # Not new-task-updated-at-unset (updated_at left at 0): both stamps come from the clock,
    # but from two readings. Equal under a frozen clock; a clock that moves on every reading
    # (an injected now such as itertools.count, a RecordingClock that ticks) tells them apart.
    _m(
        "task-created-with-two-clock-readings",
        {"lab02.task-lifecycle"},
        "copies the notebook's hand-made task, Task(..., created_at=clock.now(), "
        "updated_at=clock.now()), into create_task: under the frozen clock both readings "
        "are the same instant and the pending task is stamped exactly as it should be, but "
        "with a now() that moves on at every reading (a ticking clock, now=iter(...).__next__) "
        "the new task is saved with updated_at one tick after created_at, though both are to "
        "be the one now() of its creation",
        (_CREATE,
         "    task = Task(\n"
         '        id=f"task-{uuid.uuid4().hex}", user_input=user_input, created_at=now(),\n'
         "        updated_at=now(),\n"
         "    )\n"),
    ),
    # Not a wall-clock or a perf_counter stamp: every stamp still comes from the now() given,
    # only its fraction of a second is dropped; the kit's clock starts on a whole second and
    # tools advance by whole seconds, so only a clock at a fractional time shows it.
    _m(
        "stamps-kept-to-whole-seconds",
        {"lab02.task-lifecycle"},
        "ports the Go seed's time.Now().Unix(), whole seconds since the epoch, and stamps "
        "every version with float(int(now())) 'as the table's INTEGER column will': with the "
        "kit's frozen clock, which starts at 09:00:00 and moves by whole seconds, every "
        "created_at and updated_at is exactly now(); but with a clock at 1767258000.75 (an "
        "advance of 0.25 s, a real time.time) the pending, running, completed and failed "
        "versions are all stamped a fraction of a second early, not with now()",
        ("def _result(task: Task) -> str:\n",
         "def _stamp(now: Clock) -> float:\n"
         "    # the seed's time.Now().Unix(): whole seconds, as the table will store them\n"
         "    return float(int(now()))\n"
         "\n"
         "\n"
         "def _result(task: Task) -> str:\n"),
        ("    created = now()\n", "    created = _stamp(now)\n"),
        ("error=None, updated_at=now())", "error=None, updated_at=_stamp(now))"),
        ('            updated_at=now(),\n', "            updated_at=_stamp(now),\n"),
        (_COMPLETED_SAVE, _COMPLETED_SAVE.replace("updated_at=now()", "updated_at=_stamp(now)")),
    ),
    # Not failure-recorded-for-runtime-errors-only (only RuntimeError recorded): every
    # ordinary exception, ValueError and RuntimeError alike, is recorded; only the lab's own
    # four exceptions raised by the work (a work that executes a sub-task or a keyed call)
    # pass through, leaving the task saved running.
    _m(
        "lab-errors-from-the-work-not-recorded",
        {"lab02.task-lifecycle"},
        "reasons that TaskNotFound, TaskInProgress, KeyInProgress and IdempotencyConflict "
        "are about how the task was called, not failures of its work, so they pass through "
        "before the except that records a failure, 'as a web framework lets its own HTTP "
        "errors through its error handler': a work that raises ToolFailure, ValueError or "
        "TimeoutError is saved failed and re-raised exactly as it should be, but a work that "
        "itself executes a sub-task that is running elsewhere (TaskInProgress) or makes a "
        "keyed call another executor holds (KeyInProgress), or reuses a key "
        "(IdempotencyConflict, a ValueError), re-raises it with the task left saved running "
        "for ever, never failed with the error of the exception the work raised",
        (_EXCEPT_WORK,
         "    except (TaskNotFound, TaskInProgress, KeyInProgress, IdempotencyConflict):\n"
         "        raise  # how the task was called, not a failure of its work\n"
         + _EXCEPT_WORK),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    # The saved state is the str "completed", which equals TaskState.COMPLETED (a str enum),
    # so the history reads pending, running, completed as it should when compared with ==;
    # only a test by identity (the replay's own `is`, the store's compare_and_set) tells it
    # apart, so the replay is what breaks: it raises TaskInProgress instead of returning.
    # concurrent-once too: a loser of the claim whose winner has completed by now reads the
    # same str state and raises TaskInProgress, where the contract returns the result (as
    # lost-claim-never-returns).
    _m(
        "completed-state-saved-as-its-text",
        {"lab02.completed-not-rerun", "lab02.concurrent-once"},
        "thinking ahead to lab 04's JSON file, saves the finished task with "
        "state=TaskState.COMPLETED.value 'so it serialises as plain text', which works "
        "because TaskState is a str enum and 'completed' == TaskState.COMPLETED: the task is "
        "saved completed with its result and the first execution returns it; but executing "
        "the completed task again finds a state that is not TaskState.COMPLETED by identity "
        "(nor RUNNING), claims it with compare_and_set from 'completed', which the store "
        "refuses since the stored state is not the enum member, and raises TaskInProgress "
        "instead of returning the stored result",
        (_COMPLETED_SAVE,
         "store.save(replace(running, state=TaskState.COMPLETED.value,  # type: ignore[arg-type]\n"
         "                       result=result, updated_at=now()))"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    # Not bare-key-error (KeyError) or missing-task-expected-as-key-error (AttributeError):
    # an assert used to narrow Optional for mypy; AssertionError names the id, and under
    # python -O the check is gone and the next line raises AttributeError.
    _m(
        "not-found-narrowed-with-assert",
        {"lab02.unknown-task-error"},
        "narrows store.get's Optional for mypy the way many code bases do, with "
        "'assert task is not None, f\"task not found: {task_id}\"', thinking the message is "
        "what matters: every stored task runs, replays or is refused as it should, and an "
        "unknown id saves nothing and runs nothing, but it raises AssertionError (not "
        "TaskNotFound, so 'except TaskNotFound' and .task_id miss it), and under python -O, "
        "where asserts are stripped, AttributeError: 'NoneType' object has no attribute "
        "'state'",
        (_LOOKUP,
         "    task = store.get(task_id)\n"
         '    assert task is not None, f"task not found: {task_id}"  # narrows Optional for mypy\n'),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    # Not empty-arguments-kept-empty or null-arguments-dropped: every falsy JSON value the
    # model may send as its whole arguments ("null", "[]", "0", "false", '""') becomes "{}".
    # Through the executor the only difference is a call whose arguments the tool refuses
    # ('null', '[]' for clean_logs after '{}'), answered from the store instead of failing: no
    # repeat of one call is affected, so tool-calls-deduplicated is not.
    _m(
        "falsy-json-arguments-taken-as-none",
        {"lab02.key-is-deterministic"},
        "has seen models send 'null' as the arguments of a tool without parameters and "
        "writes 'json.loads(arguments or \"{}\") or {}' so that it means no arguments, like "
        "'' does: every JSON object, at every depth and in any order or spacing, gets the "
        "text it should, and 'null' reads as '{}'; but so does every other falsy JSON value: "
        "'[]', '0', 'false' and '\"\"' all give '{}' and the key of a call without "
        "arguments, though a list, a number or a string is other arguments than an empty "
        "object and only the order of an object's keys is free",
        (_CANONICAL_VALUE,
         '    value = (json.loads(arguments or "{}") or {}) if isinstance(arguments, str) '
         "else dict(arguments)\n"),
    ),
    _m(
        "arguments-coerced-to-a-dict",
        {"lab02.key-is-deterministic"},
        "wants both branches to give the same kind of value and writes "
        "dict(json.loads(arguments or \"{}\")), 'tool arguments are always an object': every "
        "object gets the text it should, in any key order and spacing, but dict() also "
        "accepts a list of pairs, so '[[\"service\", \"api\"]]' comes out as "
        "'{\"service\":\"api\"}', one text and one key with the object, and '[]' as '{}'; "
        "a list is other arguments than an object, and a list of other lengths ('[1, 2]') "
        "raises TypeError instead of giving a text (the executor, as for "
        "falsy-json-arguments-taken-as-none, only answers a call the tool would refuse)",
        (_CANONICAL_VALUE,
         '    value = dict(json.loads(arguments or "{}")) if isinstance(arguments, str) '
         "else dict(arguments)\n"),
    ),
    # -- lab02.params-mismatch-conflict (+ tool-calls-deduplicated, concurrent-once) -----------
    # hmac.compare_digest takes str only when both are ASCII; otherwise it raises TypeError.
    # ASCII params behave exactly as the solution's. With non-ASCII params (canonical text is
    # written with ensure_ascii=False, so an argument 'café' is non-ASCII params): a mismatch
    # raises TypeError, not IdempotencyConflict; a repeat of a finished call raises TypeError,
    # not the stored reply (also through the executor); a racer while the first call runs gets
    # TypeError, not KeyInProgress.
    _m(
        "params-compared-with-compare-digest",
        {"lab02.params-mismatch-conflict", "lab02.tool-calls-deduplicated",
         "lab02.concurrent-once"},
        "follows the security linter's advice to compare fingerprints in constant time and "
        "writes 'if not hmac.compare_digest(existing.params, params)', as for API tokens: "
        "with ASCII params (every call of the notebook) a mismatch is a conflict, even while "
        "the first call runs, a repeat gets the stored result and a racer gets KeyInProgress; "
        "but compare_digest refuses str that are not ASCII with TypeError, and canonical "
        "text keeps non-ASCII characters: a call with {\"service\": \"café\"} (or a key "
        "reused with such params) raises TypeError on every later call under its key: the "
        "repeat does not get the stored reply, the mismatch is not an IdempotencyConflict, "
        "the racer is not told the call is in progress",
        ("import hashlib\n", "import hashlib\nimport hmac\n"),
        (_CONFLICT_CHECK,
         "        if not hmac.compare_digest(existing.params, params):  # constant time\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    # Not error-stored-as-result (every failure stored) or timeout-kept-as-maybe-done: only an
    # exception that carries output (subprocess.CalledProcessError and its kin, whose output
    # or stdout is set) is stored as done; every other failure is released as it should be.
    _m(
        "failed-output-kept-as-result",
        {"lab02.failure-not-cached"},
        "thinks of DevOps tools as subprocesses: a command that exits non-zero may have "
        "printed what it did, so when the action raises an exception that carries output "
        "(subprocess.CalledProcessError's output or stdout), the output is stored as the "
        "key's result 'so a repeat does not redo half a deploy', and the exception is "
        "re-raised: a ToolFailure, a ValueError or a TimeoutError gives the key back and a "
        "later call runs again, as it should, but an action that raises "
        "CalledProcessError(1, 'deploy', output='step 1 of 3 done') leaves the key done with "
        "that text, and the later call under the key returns 'step 1 of 3 done' without "
        "running the action again",
        (_RELEASE,
         "    except BaseException as error:\n"
         "        # a command that failed may have printed what it did: keep that, not redo it\n"
         "        output = getattr(error, \"output\", None) or getattr(error, \"stdout\", None)\n"
         "        if isinstance(output, str) and output:\n"
         "            keys.put(replace(claim, done=True, result=output))\n"
         "        else:\n"
         "            keys.delete(key)\n"
         "        raise\n"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    # A repeat right after a success is answered from the store; only a repeat that comes
    # after some other side effect of the task has failed runs again. run_once is the
    # solution's; the failed call itself is released as it should be.
    _m(
        "failure-rolls-back-the-tasks-keys",
        {"lab02.tool-calls-deduplicated"},
        "treats the task's keys like a transaction: when a side-effecting call fails, the "
        "executor deletes the keys of the calls this task has finished 'so the retry starts "
        "from a clean slate', as a saga rolls back: every repeat of a call is answered from "
        "the store while nothing has failed, and the failed call runs again as it should; "
        "but after build_config succeeds and apply_deploy fails once, the model's repeated "
        "build_config (the agent retrying the plan) finds no key, builds a second config, "
        "and its tool message differs from the first one's (config #2, not #1)",
        (_EXECUTOR_INIT, _EXECUTOR_INIT + "        self._finished: list[str] = []\n"),
        (_EXECUTOR_RUN,
         "        try:\n"
         "            reply = run_once(\n"
         "                self.keys, key, f\"{name}{params}\",\n"
         "                lambda: self.tools.execute(name, arguments),\n"
         "            )\n"
         "        except Exception:\n"
         "            # roll back: the task's retry starts from a clean slate\n"
         "            for finished in self._finished:\n"
         "                self.keys.delete(finished)\n"
         "            self._finished.clear()\n"
         "            raise\n"
         "        if key not in self._finished:\n"
         "            self._finished.append(key)\n"
         "        return reply\n"),
    ),
    # A memo keyed by the tool's name where it was meant to be keyed by the arguments: the
    # first call of each tool sets the params and the key for every later call of that tool.
    _m(
        "canonical-arguments-memoised-by-tool-name",
        {"lab02.tool-calls-deduplicated"},
        "spares the executor from parsing the same arguments over and over with a memo of "
        "canonical texts on the instance, and keys it by the tool's name by a slip "
        "(self._canonical.setdefault(name, canonical_arguments(arguments))): a repeat of a "
        "call, in any key order or spacing, gets the same key and the same reply, and each "
        "tool's first call is right; but a later call of the same tool with other arguments "
        "in the same task (apply_deploy api@v2 after api@v1) is given the first call's key "
        "and gets its stored reply: v2 is never deployed",
        (_EXECUTOR_INIT, _EXECUTOR_INIT + "        self._canonical: dict[str, str] = {}\n"),
        ("        params = canonical_arguments(arguments)\n",
         "        params = self._canonical.setdefault(name, canonical_arguments(arguments))\n"),
    ),
    # -- lab02.concurrent-once ---------------------------------------------------------------
    # One executor alone never meets it: only a second executor that finds the task running
    # (or loses the claim) saves it failed, and a third then claims the failed task and runs
    # the work a second time while the first is still running it.
    _m(
        "running-task-marked-failed-by-the-loser",
        {"lab02.concurrent-once"},
        "puts one try around the claim and the work 'so that every way out records what "
        "happened', with the failure recorded whenever a task was read: a single executor "
        "saves pending, running, completed or failed exactly as it should; but an executor "
        "that finds the task running raises TaskInProgress after saving it failed with "
        "'TaskInProgress: ...', over the running executor's claim, so a third executor finds "
        "it failed, claims it and runs the work a second time while the first is still "
        "running it",
        (_CLAIM_AND_RUN, ""),
        ("    if task.state is TaskState.RUNNING:\n        raise TaskInProgress(task_id)\n"
         "    try:\n        result = work(running)\n",
         "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
         "    try:\n"
         "        if task.state is TaskState.RUNNING:\n"
         "            raise TaskInProgress(task_id)\n"
         "        if not store.compare_and_set(running, expected=task.state):\n"
         "            current = store.get(task_id)\n"
         "            if current is not None and current.state is TaskState.COMPLETED:\n"
         "                return _result(current)\n"
         "            raise TaskInProgress(task_id)\n"
         "        result = work(running)\n"),
    ),
)
