"""Lab 02's public checks (idempotent tasks); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab02 as selfcheck
    selfcheck.tool_calls_deduplicated()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()                # every lab 02 check, and a Summary

Like the grader, the checks watch the module from the outside: every version of a task the
store saw (``MemoryTaskStore.history``), the DevOps tools' side-effect counters, the
messages the fake LLM was sent, and what two racing threads got back. The races are lined
up, not left to luck: each thread's first read of a store waits until the other thread has
read too, so "read, then write" runs the work twice every time, and an atomic claim never.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import Any
from unittest import mock

from labs.kit.agent import run_agent, start_messages
from labs.kit.clock import FrozenClock
from labs.kit.devops import DevOpsTools, ToolFailure
from labs.kit.fake_llm import reply, tool_call
from labs.kit.keystore import KeyRecord, MemoryKeyStore
from labs.kit.notebook import RecordingClock, load_lab, seconds
from labs.kit.race import LinedUpKeyStore, LinedUpTaskStore, race
from labs.kit.selfcheck import (
    MAX_CALLS,
    GuardedLLM,
    RunawayError,
    Summary,
    all_close,
    count,
    run_checks,
    short,
    verdict,
)
from labs.kit.tasks import MemoryTaskStore, Task, TaskState

LAB02 = "lab02_idempotency"
#: Rounds of each race; the rendezvous decides every round, so a few are plenty.
RACE_ROUNDS = 8
#: Real seconds a racing thread may take before the check calls it a hang.
RACE_JOIN = 5.0
#: Real seconds the work of a race takes, so that the other racer finds it running.
RACE_WORK = 0.002

ROLLOUT = "task-api-rollout"
API_7_0_3 = '{"service":"api","version":"7.0.3"}'


# -- observing calls ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one call did: the value it returned, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    def returned(self, expected: Any) -> bool:
        return self.error is None and self.value == expected

    def raised(self, kind: type[BaseException]) -> bool:
        return isinstance(self.error, kind)

    def __str__(self) -> str:
        if self.error is None:
            return f"returned {short(self.value, 60)}"
        return f"raised {type(self.error).__name__}({short(str(self.error), 60)})"


def _attempt(call: Callable[[], Any]) -> Outcome:
    """Run ``call``; what it returned or raised. NotImplementedError goes through."""
    try:
        return Outcome(value=call())
    except NotImplementedError:
        raise
    except RunawayError as error:
        return Outcome(error=error)
    except Exception as error:  # what the lab raised is the observation
        return Outcome(error=error)


class _Work:
    """A task's work or a keyed action: counts its runs, takes ``seconds`` on the frozen
    clock (or, without one, real time), then returns ``result`` or raises ``error``."""

    def __init__(self, result: str, *, clock: FrozenClock | None = None, seconds_: float = 0.0,
                 error: Exception | None = None) -> None:
        self.result, self.clock, self.seconds, self.error = result, clock, seconds_, error
        self.runs = 0
        self._lock = threading.Lock()

    def __call__(self, task: Task | None = None) -> str:
        with self._lock:
            self.runs += 1
            if self.runs > MAX_CALLS:
                raise RunawayError(f"did not stop: the work ran more than {MAX_CALLS} times")
        if self.clock is not None:
            self.clock.advance(self.seconds)
        elif self.seconds:
            threading.Event().wait(self.seconds)
        if self.error is not None:
            raise self.error
        return self.result


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB02)


def _states(history: list[Task]) -> list[str]:
    return [getattr(task.state, "value", str(task.state)) for task in history]


def _since(stamp: Any, origin: float) -> float:
    """Seconds from ``origin`` to ``stamp``; NaN when ``stamp`` is not a number."""
    return stamp - origin if isinstance(stamp, (int, float)) else float("nan")


# -- lab02.task-lifecycle ------------------------------------------------------------------


def task_lifecycle(lab: ModuleType | None = None) -> bool:
    """pending → running → completed (or failed), each version saved with ``updated_at``
    from the clock and the result or error; a failed task runs again; new ids never
    collide, even in one frozen instant."""
    lab = _lab(lab)
    problems: list[str] = []
    shown: list[str] = []
    with RecordingClock() as clock:
        done = _Work("Rotated 14 GB of logs on db-2", clock=clock, seconds_=25.0)
        broken = _Work("", clock=clock, seconds_=11.0, error=ToolFailure("db-2 is read-only"))
        for final, work in (("completed", done), ("failed", broken)):
            store = MemoryTaskStore()
            problems += _lifecycle(lab, clock, store, final, work, shown)
        if not problems:
            problems += _rerun_failed(lab, clock, store, shown)
        store = MemoryTaskStore()
        for _ in range(2):
            _attempt(lambda: lab.create_task(store, "Rotate the logs on db-3", now=clock.now))
        ids = {task.id for task in store.saves if isinstance(task.id, str) and task.id}
        if len(ids) != 2 or len(store) != 2:
            problems.append(
                f"two tasks created in the same frozen instant: {count(len(ids), 'distinct id')}"
                f", {count(len(store), 'task')} stored; expected two (an id built from the "
                "clock repeats while time stands still)"
            )
    return verdict("task-lifecycle", problems, "; ".join(shown) + "; 2 ids in one instant")


def _lifecycle(lab: ModuleType, clock: FrozenClock, store: MemoryTaskStore, final: str,
               work: _Work, shown: list[str]) -> list[str]:
    """Create a task, claim it 3 s later, let ``work`` end it ``final``; the problems seen.
    Adds what the store saw to ``shown``."""
    created = clock.now()
    made = _attempt(lambda: lab.create_task(store, "Rotate the logs on db-2", now=clock.now))
    if not store.saves:
        return [f"create_task {made} and saved nothing; expected the new pending task saved"]
    task_id = store.saves[0].id
    clock.advance(3.0)
    outcome = _attempt(lambda: lab.execute_task(store, task_id, work, now=clock.now))
    history = store.history(task_id)
    states = _states(history)
    label = f"a task that ends {final} (claimed 3 s after it was created, works " \
            f"{seconds(work.seconds)})"
    if states != ["pending", "running", final]:
        return [(f"{label}: the store saw {', '.join(states) or 'nothing'}; expected "
                 f"pending, running, {final}, each saved as it happened")]
    problems = []
    updated = [_since(task.updated_at, created) for task in history]
    expected = [0.0, 3.0, 3.0 + work.seconds]
    kept = all(task.created_at == created for task in history)
    if not all_close(updated, expected) or not kept:
        problems.append(
            f"{label}: updated_at {seconds(updated)} after creation, created_at "
            f"{'kept' if kept else 'changed'}; expected {seconds(expected)} and created_at "
            "kept, all read from now()"
        )
    last = history[-1]
    if final == "completed":
        if not outcome.returned(work.result) or last.result != work.result or last.error:
            problems.append(f"{label}: execute_task {outcome}; the task holds result="
                            f"{short(last.result)}, error={short(last.error)}; expected the "
                            "work's result, returned and recorded")
        recorded = f"result {short(last.result)}"
    else:
        error = last.error if isinstance(last.error, str) else ""
        if not outcome.raised(ToolFailure) or "ToolFailure" not in error \
                or "db-2 is read-only" not in error or last.result is not None:
            problems.append(
                f"{label}: execute_task {outcome}; the task holds error={short(last.error)}, "
                f"result={short(last.result)}; expected the ToolFailure re-raised and "
                "error='ToolFailure: db-2 is read-only'"
            )
        recorded = f"error {short(last.error)}"
    shown.append(f"{', '.join(states)} at {seconds(updated)}, {recorded}")
    return problems


def _rerun_failed(lab: ModuleType, clock: FrozenClock, store: MemoryTaskStore,
                  shown: list[str]) -> list[str]:
    """Execute the failed task in ``store`` again, 30 s later; the problems seen."""
    task_id = store.saves[0].id
    before = len(store.history(task_id))
    clock.advance(30.0)
    work = _Work("db-2 logs rotated on retry", clock=clock, seconds_=6.0)
    outcome = _attempt(lambda: lab.execute_task(store, task_id, work, now=clock.now))
    rerun = store.history(task_id)[before:]
    again = ", ".join(_states(rerun))
    shown.append(f"executed again: {again}")
    if again == "running, completed" and rerun[0].error is None \
            and outcome.returned(work.result):
        return []
    cleared = "cleared" if rerun and rerun[0].error is None else "kept"
    return [(f"the failed task executed again: {outcome}, saved {again or 'nothing'} (error "
             f"{cleared} when claimed); expected running with the error cleared, then "
             "completed")]


# -- lab02.completed-not-rerun ---------------------------------------------------------------


def completed_not_rerun(lab: ModuleType | None = None) -> bool:
    """A completed task executed three more times returns its stored result each time,
    without running the work (the side-effect counter stays at 1) or saving anything."""
    lab = _lab(lab)
    problems: list[str] = []
    tools = DevOpsTools(disk_percent=88)
    with RecordingClock() as clock:
        store = MemoryTaskStore()
        task = Task(id="task-db-2-space", user_input="Free some space on db-2",
                    created_at=clock.now(), updated_at=clock.now())
        store.save(task)

        def work(_: Task) -> str:
            clock.advance(40.0)
            return tools.execute("clean_logs", "{}")

        first = _attempt(lambda: lab.execute_task(store, task.id, work, now=clock.now))
        result = "Logs cleaned. Freed 20GB. Disk now at 68%."
        saves = len(store.saves)
        again = []
        for _ in range(3):
            clock.advance(45.0)
            again.append(_attempt(lambda: lab.execute_task(store, task.id, work, now=clock.now)))
        written = len(store.saves) - saves
        final = store.get(task.id)
    if not first.returned(result):
        problems.append(f"the first execution {first}; expected {result!r}")
    runs = tools.calls["clean_logs"]
    if runs != 1 or not all(call.returned(result) for call in again):
        shown = "; ".join(str(call) for call in again)
        problems.append(
            f"a completed task executed 3 more times: clean_logs ran {count(runs, 'time')} "
            f"in all (disk now {tools.disk_percent}%), and the calls {shown}; expected 1 run "
            "and the stored result each time"
        )
    if written or final is None or final.state is not TaskState.COMPLETED:
        state = final.state.value if final is not None else "gone"
        problems.append(
            f"re-executing the completed task saved {count(written, 'more version')} and left "
            f"it {state}; expected no write at all"
        )
    return verdict(
        "completed-not-rerun", problems,
        f"executed 4 times: clean_logs ran once (disk {tools.disk_percent}%), the stored "
        "result came back 3 times, nothing saved after the first run",
    )


# -- lab02.unknown-task-error -----------------------------------------------------------------


def unknown_task_error(lab: ModuleType | None = None) -> bool:
    """An id no task has raises the lab's TaskNotFound naming the id; nothing runs and
    nothing is saved."""
    lab = _lab(lab)
    problems: list[str] = []
    missing = "task-db-2-restore"
    with RecordingClock() as clock:
        store = MemoryTaskStore()
        store.save(Task(id="task-db-2-backup", user_input="Back up db-2",
                        created_at=clock.now(), updated_at=clock.now()))
        work = _Work("restored", clock=clock, seconds_=9.0)
        seen = _attempt(lambda: lab.execute_task(store, missing, work, now=clock.now))
    if not seen.raised(lab.TaskNotFound):
        problems.append(f"execute_task on the unknown id {missing!r} {seen}; expected your "
                        "TaskNotFound")
    elif missing not in str(seen.error):
        problems.append(f"the TaskNotFound says {str(seen.error)!r}; name the id "
                        f"{missing!r} in it")
    if work.runs or len(store.saves) != 1 or store.get(missing) is not None:
        problems.append(
            f"the unknown id: the work ran {count(work.runs, 'time')}, "
            f"{count(len(store.saves) - 1, 'task')} saved; expected nothing to run or be saved"
        )
    return verdict(
        "unknown-task-error", problems,
        f"{missing!r} {seen}; nothing ran, nothing saved",
    )


# -- lab02.tool-calls-deduplicated ------------------------------------------------------------


def tool_calls_deduplicated(lab: ModuleType | None = None) -> bool:
    """In one agent run, build_config asked twice in one reply and apply_deploy asked again
    turns later (new tool_call ids, keys reordered, other spacing) each run once, and every
    repeat gets the first call's reply; read-only tools run every time."""
    lab = _lab(lab)
    problems: list[str] = []
    api = {"service": "api", "version": "7.0.3"}
    script = [
        reply(tool_calls=[tool_call("check_status", {"service": "api"}, id="call_p1")]),
        reply(tool_calls=[tool_call("build_config", api, id="call_p2"),
                          tool_call("build_config", '{"version":"7.0.3","service":"api"}',
                                    id="call_p3")]),
        reply(tool_calls=[tool_call("apply_deploy", api, id="call_p4")]),
        reply(tool_calls=[tool_call("verify", {"service": "api"}, id="call_p5")]),
        reply(tool_calls=[tool_call("apply_deploy", '{\n  "version": "7.0.3",\n  "service": '
                                    '"api"\n}', id="call_p6")]),
        reply(tool_calls=[tool_call("verify", {"service": "api"}, id="call_p7")]),
        reply("api 7.0.3 is live"),
    ]
    tools = DevOpsTools()
    with RecordingClock() as clock, GuardedLLM(script, clock=clock) as llm:
        execute = lab.IdempotentTools(tools, MemoryKeyStore(), ROLLOUT)
        answer = _attempt(lambda: run_agent(
            llm.client(max_retries=0), start_messages("Roll out api 7.0.3"), execute))
        sent = llm.requests[-1].messages if llm.requests else []
    replies = {m.get("tool_call_id"): m.get("content") for m in sent if m.get("role") == "tool"}
    if answer.error is not None:
        return verdict("tool-calls-deduplicated", [(
            f"the agent run {answer} after {count(len(llm.requests), 'request')}; expected "
            "the final answer after 7")], "")
    runs = {name: tools.calls[name] for name in ("build_config", "apply_deploy", "verify")}
    if runs["build_config"] != 1 or replies.get("call_p2") != replies.get("call_p3"):
        problems.append(
            f"build_config(api, 7.0.3) asked twice in one reply (call_p2, call_p3, keys "
            f"reordered): it ran {count(runs['build_config'], 'time')}, answered "
            f"{short(replies.get('call_p2'))} and {short(replies.get('call_p3'))}; expected one "
            "run and one answer for both"
        )
    if runs["apply_deploy"] != 1 or replies.get("call_p4") != replies.get("call_p6") \
            or tools.deployed != ["api@7.0.3"]:
        problems.append(
            f"apply_deploy(api, 7.0.3) asked again two turns later (new id call_p6, keys "
            f"reordered, new lines): deployed {tools.deployed}, answered "
            f"{short(replies.get('call_p4'))} then {short(replies.get('call_p6'))}; expected "
            "one deploy and the first reply again"
        )
    if runs["verify"] != 2 or tools.calls["check_status"] != 1:
        problems.append(
            f"verify ran {count(runs['verify'], 'time')} of 2, check_status "
            f"{count(tools.calls['check_status'], 'time')} of 1: read-only tools run every "
            "time (only SIDE_EFFECTS go through the key store)"
        )
    return verdict(
        "tool-calls-deduplicated", problems,
        f"build_config asked 2x in one reply, apply_deploy 2x in two turns: ran "
        f"{runs['build_config']}x and {runs['apply_deploy']}x, repeats got the same reply; "
        f"verify ran {runs['verify']}x",
    )


# -- lab02.key-is-deterministic ------------------------------------------------------------


def key_is_deterministic(lab: ModuleType | None = None) -> bool:
    """One call, however its arguments are written, has one key, 90 minutes later, with
    the random module reseeded and with ``hash()`` salted as in another process; another
    version, task or tool, or parts that run together, give another key; the executor
    stores calls under that key."""
    lab = _lab(lab)
    problems: list[str] = []
    limits = '"limits":{"cpu":2,"mem":"4G"}'
    base = f'{{"service":"api","version":"7.0.3",{limits}}}'
    spellings: dict[str, str | Mapping[str, Any]] = {
        "keys reordered": '{"limits":{"mem":"4G","cpu":2},"version":"7.0.3","service":"api"}',
        "other spacing": '{\n  "service" : "api",\n  "version": "7.0.3",\n  "limits": '
                         '{ "cpu": 2, "mem": "4G" }\n}',
        "a mapping": {"version": "7.0.3", "limits": {"mem": "4G", "cpu": 2}, "service": "api"},
    }
    others = {
        "another version": (ROLLOUT, "apply_deploy",
                            f'{{"service":"api","version":"7.0.4",{limits}}}'),
        "another task": ("task-api-hotfix", "apply_deploy", base),
        "another tool": (ROLLOUT, "build_config", base),
        "'task-api-rolloutapply_' with tool 'deploy' (parts run together)":
            ("task-api-rolloutapply_", "deploy", base),
    }

    def keys() -> dict[str, Any]:
        found = {"base": lab.idempotency_key(ROLLOUT, "apply_deploy", base)}
        for name, arguments in spellings.items():
            found[name] = lab.idempotency_key(ROLLOUT, "apply_deploy", arguments)
        for name, (task_id, tool, arguments) in others.items():
            found[name] = lab.idempotency_key(task_id, tool, arguments)
        return found

    real_hash = hash
    with RecordingClock() as clock:
        random.seed(4)
        first = _attempt(keys)
        clock.advance(90 * 60.0)
        random.seed(5)
        later = _attempt(keys)
    with mock.patch.object(lab, "hash", lambda value: real_hash(("salt", value)), create=True):
        elsewhere = _attempt(keys)
    if first.error is not None:
        return verdict("key-is-deterministic", [f"idempotency_key {first}"], "")
    first, later, elsewhere = first.value, later.value, elsewhere.value
    if not all(isinstance(key, str) and key for key in first.values()):
        problems.append(f"idempotency_key returned {short(first['base'])}; expected a "
                        "non-empty str")
    if later != first:
        problems.append("the same calls got other keys 90 minutes later, with the random "
                        "module reseeded: the key depends on the time or on randomness")
    if elsewhere != first:
        problems.append("the same calls got other keys once hash() changed, as it does in "
                        "every new process (PYTHONHASHSEED): use a digest such as SHA-256")
    differ = [name for name in spellings if first[name] != first["base"]]
    if differ:
        problems.append(f"the same call written another way ({', '.join(differ)}) got another "
                        "key: derive it from the canonical arguments")
    shared = [name for name in others if first[name] == first["base"]]
    if shared:
        problems.append(f"these calls share the key of apply_deploy(api, 7.0.3) in "
                        f"{ROLLOUT}: {', '.join(shared)}")
    empty = [lab.canonical_arguments(text) for text in ("", "{}", " { } ", {})]
    if not all(isinstance(text, str) for text in empty) or len(set(empty)) != 1:
        problems.append(f"canonical_arguments of '', '{{}}', ' {{ }} ' and {{}}: "
                        f"{', '.join(map(short, empty))}; expected one text for no arguments")
    problems.extend(_executor_keys(lab))
    return verdict(
        "key-is-deterministic", problems,
        "one key for 4 spellings of one call, 90 min later with random reseeded, and with "
        "hash() salted; 4 other keys for other calls; the executor keys by task and "
        "arguments",
    )


def _executor_keys(lab: ModuleType) -> list[str]:
    """What IdempotentTools runs again when two tasks share one key store."""
    tools, store = DevOpsTools(), MemoryKeyStore()
    rollout = lab.IdempotentTools(tools, store, ROLLOUT)
    hotfix = lab.IdempotentTools(tools, store, "task-api-hotfix")
    calls = [
        (rollout, API_7_0_3),
        (hotfix, API_7_0_3),
        (rollout, '{ "version": "7.0.3", "service": "api" }'),
        (rollout, '{"service":"api","version":"7.1.0"}'),
    ]
    seen = [_attempt(partial(executor, "build_config", arguments)) for executor, arguments in calls]
    expected = ["config #1 for api@7.0.3 built", "config #2 for api@7.0.3 built",
                "config #1 for api@7.0.3 built", "config #3 for api@7.1.0 built"]
    problems = []
    if [outcome.value if outcome.error is None else outcome for outcome in seen] != expected:
        problems.append(
            "build_config(api, 7.0.3) in the rollout task, the same in the hotfix task, the "
            "rollout's again (reordered), then 7.1.0: " + "; ".join(map(str, seen))
            + "; expected configs #1, #2, #1 again, #3 (another task or version is another "
              "call, a repeat is not)"
        )
    if lab.idempotency_key(ROLLOUT, "build_config", API_7_0_3) not in store.keys():
        problems.append("IdempotentTools did not store the call under "
                        "idempotency_key(task_id, name, arguments)")
    return problems


# -- lab02.params-mismatch-conflict -----------------------------------------------------------


def params_mismatch_conflict(lab: ModuleType | None = None) -> bool:
    """A key reused with other params raises the lab's IdempotencyConflict naming the key,
    runs nothing, and leaves the first record as it was."""
    lab = _lab(lab)
    problems: list[str] = []
    keys, runs = MemoryKeyStore(), []
    key = "scale-api-0412"

    def scale(replicas: int) -> Callable[[], str]:
        def action() -> str:
            runs.append(replicas)
            return f"api scaled to {replicas} replicas"

        return action

    calls = [
        _attempt(partial(lab.run_once, keys, key, f"scale:api:replicas={n}", scale(n)))
        for n in (3, 5, 3)
    ]
    first, second, third = calls
    if not first.returned("api scaled to 3 replicas"):
        problems.append(f"the first call with replicas=3 {first}; expected its result")
    if not second.raised(lab.IdempotencyConflict):
        problems.append(
            f"key {key} reused with replicas=5 after replicas=3: {second}; expected your "
            "IdempotencyConflict (the old result for new parameters hides a bug)"
        )
    elif key not in str(second.error):
        problems.append(f"the conflict says {str(second.error)!r}; name the key {key!r}")
    record = keys.get(key)
    params = record.params if isinstance(record, KeyRecord) else None
    if runs != [3] or not third.returned("api scaled to 3 replicas") \
            or params != "scale:api:replicas=3":
        problems.append(
            f"after the conflict: the actions that ran {runs}, replicas=3 again {third}, the "
            f"key holds params {short(params)}; expected only the first run, its stored "
            "result, and the first params kept"
        )
    return verdict(
        "params-mismatch-conflict", problems,
        f"replicas=3, then 5 under {key}: {type(second.error).__name__} naming the key, "
        "1 run; replicas=3 again: the stored result",
    )


# -- lab02.failure-not-cached ---------------------------------------------------------------


class _Interrupted(BaseException):
    """Stands for KeyboardInterrupt: an action stopped by something that is not an Exception."""


def failure_not_cached(lab: ModuleType | None = None) -> bool:
    """A failed action is re-raised and not stored: the same key runs it again, until it
    succeeds and is stored; an interrupted action does not leave its key claimed; through
    the executor, a failed clean_logs runs again."""
    lab = _lab(lab)
    problems: list[str] = []
    keys, attempts = MemoryKeyStore(), []
    errors = [ToolFailure("card network timeout"), ConnectionResetError("peer reset")]

    def charge() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return f"charged 12.50 EUR on attempt {len(attempts)}"

    calls = [_attempt(lambda: lab.run_once(keys, "charge-inv-5521", "charge:12.50", charge))
             for _ in range(4)]
    expected = "charged 12.50 EUR on attempt 3"
    if not (calls[0].raised(ToolFailure) and calls[1].raised(ConnectionResetError)
            and calls[2].returned(expected) and calls[3].returned(expected)
            and len(attempts) == 3):
        problems.append(
            "an action failing twice, then succeeding, called 4 times under one key: "
            + "; ".join(map(str, calls))
            + f" ({count(len(attempts), 'attempt')}); expected the ToolFailure, the "
              f"ConnectionResetError, then {expected!r} twice (3 attempts)"
        )
    restarts: list[int] = []

    def restart() -> str:
        restarts.append(1)
        if len(restarts) == 1:
            raise _Interrupted("stopped half-way")
        return "api restarted"

    try:
        interrupted = _attempt(lambda: lab.run_once(keys, "restart-api-7", "restart:api", restart))
    except _Interrupted:
        interrupted = Outcome(error=_Interrupted("stopped half-way"))
    retried = _attempt(lambda: lab.run_once(keys, "restart-api-7", "restart:api", restart))
    if not retried.returned("api restarted") or len(restarts) != 2:
        problems.append(
            f"an action interrupted by a BaseException (as Ctrl-C is): {interrupted}; the next "
            f"call {retried}; expected it to run again (release the key whatever the action "
            "raised, then re-raise)"
        )
    tools = DevOpsTools(disk_percent=91)
    tools.fail_next("clean_logs")
    execute = lab.IdempotentTools(tools, MemoryKeyStore(), "task-db-2-space")
    cleans = [_attempt(partial(execute, "clean_logs", arguments)) for arguments in ("", "{}", "")]
    cleaned = "Logs cleaned. Freed 20GB. Disk now at 71%."
    if not (cleans[0].raised(ToolFailure) and cleans[1].returned(cleaned)
            and cleans[2].returned(cleaned) and tools.calls["clean_logs"] == 2):
        problems.append(
            "clean_logs through IdempotentTools, failing once, asked 3 times: "
            + "; ".join(map(str, cleans))
            + f" ({count(tools.calls['clean_logs'], 'run')}); expected the ToolFailure, "
              "then one real clean, then its stored reply"
        )
    return verdict(
        "failure-not-cached", problems,
        f"failed, failed, then {expected!r} and the same stored (3 attempts); interrupted, "
        "then run again; clean_logs failed once, then ran: 2 runs, disk 71%",
    )


# -- lab02.concurrent-once ------------------------------------------------------------------


def _race(call: Callable[[], Any]) -> list[Outcome] | None:
    """``call`` in two threads released together, each thread's first read of the store
    lined up with the other's: what each got, or None when one of them did not return
    within :data:`RACE_JOIN` seconds. NotImplementedError goes through."""
    finishes = race(call, join=RACE_JOIN)
    if finishes is None:
        return None
    return [_attempt(finish.unwrap) for finish in finishes]


def _race_rounds(
    what: str, new_round: Callable[[int], tuple[Callable[[], Any], _Work]],
    result: str, in_progress: type[BaseException], hint: str,
) -> list[str]:
    """Race ``RACE_ROUNDS`` rounds; the first problem seen, if any."""
    for number in range(1, RACE_ROUNDS + 1):
        call, work = new_round(number)
        seen = _race(call)
        if seen is None:
            return [(f"{what}, round {number}: a thread did not return within "
                     f"{seconds(RACE_JOIN)} (a deadlock?)")]
        if work.runs != 1:
            why = hint if work.runs > 1 else "one of them should have run it"
            return [(f"{what}, round {number}: the work ran {count(work.runs, 'time')} "
                     f"({'; '.join(map(str, seen))}): {why}")]
        wrong = [o for o in seen if not (o.returned(result) or o.raised(in_progress))]
        if wrong:
            return [(f"{what}, round {number}: a racer {wrong[0]}; expected {result!r} or "
                     f"your {in_progress.__name__}")]
    return []


def concurrent_once(lab: ModuleType | None = None) -> bool:
    """Two threads that execute one task, or run one key, at the same moment run the work
    once; the other gets the result or the lab's in-progress error. Every round both
    threads read the store before either writes, so check-then-set fails at once."""
    lab = _lab(lab)
    ticks = itertools.count(1)
    result = "migrated db-2 to schema v14"

    def task_round(number: int) -> tuple[Callable[[], Any], _Work]:
        store = LinedUpTaskStore()
        task_id = f"task-migrate-db-2-{number}"
        store.save(Task(id=task_id, user_input="Migrate db-2 to schema v14"))
        work = _Work(result, seconds_=RACE_WORK)
        return (lambda: lab.execute_task(store, task_id, work,
                                         now=lambda: float(next(ticks)))), work

    def key_round(number: int) -> tuple[Callable[[], Any], _Work]:
        keys = LinedUpKeyStore()
        work = _Work(result, seconds_=RACE_WORK)
        return (lambda: lab.run_once(keys, f"migrate-db-2-v14-{number}", "migrate:db-2:v14",
                                     work)), work

    problems = _race_rounds(
        "two threads executing one pending task", task_round, result, lab.TaskInProgress,
        "both read 'pending' before either wrote (check-then-set); claim the task with "
        "store.compare_and_set(running, expected=<the state you read>)",
    ) + _race_rounds(
        "two threads running one new key", key_round, result, lab.KeyInProgress,
        "both found the key free before either took it (check-then-set); claim it with "
        "keys.put_if_absent",
    )
    return verdict(
        "concurrent-once", problems,
        f"{RACE_ROUNDS} rounds each, both threads reading first: one task, the work ran once "
        "a round; one key, the action ran once a round; the other thread got the result or "
        "the in-progress error",
    )


#: Every lab 02 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    task_lifecycle,
    completed_not_rerun,
    unknown_task_error,
    tool_calls_deduplicated,
    key_is_deterministic,
    params_mismatch_conflict,
    failure_not_cached,
    concurrent_once,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 02 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
