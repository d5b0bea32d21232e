"""Lab 02's public checks (idempotent tasks); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab02 as selfcheck
    selfcheck.tool_calls_deduplicated()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()                # every lab 02 check, and a Summary

Like the grader, the checks watch the module from the outside: every version of a task the
store saw (``MemoryTaskStore.history``), the DevOps tools' side-effect counters, and what
each call returned or raised. Each check judges its own rule: what ``idempotency_key`` and
``canonical_arguments`` return is ``key-is-deterministic``'s alone, and the executor is
judged with your own keys (two calls your keys tell apart are not counted against the
deduplication, nor two different calls your keys merge). Races are lined up, not left to
luck: another executor acts on the task right after your first read, and two threads'
first reads (or claims of a key) wait for each other, so "read, then write" runs the work
twice every time, and an atomic claim never. Timestamps come from a detached frozen clock, which the process's
``time.time()`` does not follow.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import ModuleType
from typing import Any
from unittest import mock

from labs.kit.clock import FrozenClock
from labs.kit.devops import SIDE_EFFECTS, DevOpsTools, ToolFailure
from labs.kit.keystore import KeyRecord, MemoryKeyStore
from labs.kit.notebook import RecordingClock, load_lab, seconds
from labs.kit.race import LinedUpKeyStore, LinedUpTaskStore, race
from labs.kit.selfcheck import (
    MAX_CALLS,
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
                 error: BaseException | None = None) -> None:
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


def _same_call(arguments: str | Mapping[str, Any]) -> str:
    """The check's own reading of a call's arguments: parsed, keys in order, lists and
    strings as they are (two calls with one reading are the same call)."""
    if isinstance(arguments, Mapping):
        value: Any = dict(arguments)
    else:
        value = json.loads(arguments) if arguments.strip() else {}
    return json.dumps(value, sort_keys=True)


# -- lab02.task-lifecycle ------------------------------------------------------------------


def task_lifecycle(lab: ModuleType | None = None) -> bool:
    """pending → running → completed (or failed), each version saved with ``updated_at``
    from ``now`` and the result or error; create_task returns the task it saved; a failed
    task runs again and completes clean; new ids never collide, even in one frozen instant."""
    lab = _lab(lab)
    problems: list[str] = []
    shown: list[str] = []
    with FrozenClock(detached=True) as clock:
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
    problems = []
    if made.value != store.saves[0]:
        problems.append(f"create_task {made}; expected the pending task it saved "
                        f"(id {short(task_id)})")
    clock.advance(3.0)
    outcome = _attempt(lambda: lab.execute_task(store, task_id, work, now=clock.now))
    history = store.history(task_id)
    states = _states(history)
    label = f"a task that ends {final} (claimed 3 s after it was created, works " \
            f"{seconds(work.seconds)})"
    if states != ["pending", "running", final]:
        return problems + [(f"{label}: the store saw {', '.join(states) or 'nothing'}; "
                            f"expected pending, running, {final}, each saved as it happened")]
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
        wanted = "ToolFailure: db-2 is read-only"
        if not outcome.raised(ToolFailure) or last.error != wanted or last.result is not None:
            problems.append(
                f"{label}: execute_task {outcome}; the task holds error={short(last.error)}, "
                f"result={short(last.result)}; expected the ToolFailure re-raised and "
                f"error={wanted!r}"
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
    shown.append(f"executed again: {again}, error cleared")
    if again == "running, completed" and rerun[0].error is None and rerun[1].error is None \
            and rerun[1].result == work.result and outcome.returned(work.result):
        return []
    cleared = ", ".join("cleared" if task.error is None else f"kept ({short(task.error, 30)})"
                        for task in rerun)
    return [(f"the failed task executed again: {outcome}, saved {again or 'nothing'} (error "
             f"{cleared or 'not seen'}); expected running with the error cleared, then "
             "completed with the new result and no error")]


# -- lab02.completed-not-rerun ---------------------------------------------------------------


def completed_not_rerun(lab: ModuleType | None = None) -> bool:
    """A completed task executed again returns its stored result each time, a day later too
    and an empty result too, without running the work or saving anything."""
    lab = _lab(lab)
    problems: list[str] = []
    result = "Logs cleaned. Freed 20GB. Disk now at 68%."
    with FrozenClock(detached=True) as clock:
        for label, stored, later in (
            ("completed", result, (45.0, 45.0, 3 * 24 * 3600.0)),
            ("completed with an empty result", "", (30.0,)),
        ):
            store = MemoryTaskStore()
            task = Task(id=f"task-db-2-space-{len(stored)}", user_input="Free space on db-2",
                        state=TaskState.COMPLETED, result=stored, created_at=clock.now(),
                        updated_at=clock.now())
            store.save(task)
            work = _Work("cleaned again", clock=clock, seconds_=40.0)
            calls = []
            for pause in later:
                clock.advance(pause)
                calls.append(_attempt(lambda: lab.execute_task(store, task.id, work,
                                                               now=clock.now)))
            written = len(store.saves) - 1
            if work.runs or written or not all(call.returned(stored) for call in calls):
                problems.append(
                    f"a task {label} ({stored!r}), executed {len(calls)} more times "
                    f"(the last {seconds(sum(later))} later): "
                    + "; ".join(map(str, calls))
                    + f"; the work ran {count(work.runs, 'time')}, "
                      f"{count(written, 'version')} saved; expected {stored!r} each time, no "
                      "run and no write"
                )
        tools = DevOpsTools(disk_percent=88)
        store = MemoryTaskStore()
        mine = Task(id="task-db-2-logs", user_input="Clean the logs on db-2",
                    created_at=clock.now(), updated_at=clock.now())
        store.save(mine)

        def work(_: Task) -> str:
            clock.advance(40.0)
            return tools.execute("clean_logs", "{}")

        first = _attempt(lambda: lab.execute_task(store, mine.id, work, now=clock.now))
        saved = len(store.saves)
        finished = store.get(mine.id)
        if finished is not None and finished.state is TaskState.COMPLETED:
            clock.advance(45.0)
            again = _attempt(lambda: lab.execute_task(store, mine.id, work, now=clock.now))
            if tools.calls["clean_logs"] != 1 or len(store.saves) != saved \
                    or not again.returned(finished.result):
                problems.append(
                    f"your completed task executed again: {again}; clean_logs ran "
                    f"{count(tools.calls['clean_logs'], 'time')} in all, "
                    f"{count(len(store.saves) - saved, 'version')} saved; expected the stored "
                    f"result {short(finished.result)}, 1 run and no write"
                )
    return verdict(
        "completed-not-rerun", problems,
        f"a completed task executed 3 more times (the last 3 days later): the stored result, "
        f"no run, no write; with an empty result: '' each time; your own completed task: "
        f"clean_logs ran once ({short(first.value, 30)})",
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
        again = _attempt(lambda: lab.execute_task(store, missing, work, now=clock.now))
    if not seen.raised(lab.TaskNotFound) or not again.raised(lab.TaskNotFound):
        problems.append(f"execute_task on the unknown id {missing!r} {seen}, then {again}; "
                        "expected your TaskNotFound both times")
    elif missing not in str(seen.error) or getattr(seen.error, "task_id", None) != missing:
        problems.append(f"the TaskNotFound says {str(seen.error)!r} (task_id="
                        f"{short(getattr(seen.error, 'task_id', None))}); name the id "
                        f"{missing!r} in it")
    if work.runs or len(store.saves) != 1 or store.get(missing) is not None:
        problems.append(
            f"the unknown id, executed twice: the work ran {count(work.runs, 'time')}, "
            f"{count(len(store.saves) - 1, 'task')} saved; expected nothing to run or be saved"
        )
    return verdict(
        "unknown-task-error", problems,
        f"{missing!r} {seen}, twice; nothing ran, nothing saved",
    )


# -- lab02.tool-calls-deduplicated ------------------------------------------------------------

#: The tool calls of one task, in order: repeats with other spacing and key order.
_CALLS: tuple[tuple[str, str, str], ...] = (
    ("check_status", '{"service":"web"}', ""),
    ("build_config", '{"service":"web","version":"3.2.0"}', ""),
    ("build_config", '{"version": "3.2.0", "service": "web"}', "reordered, spaced"),
    ("apply_deploy", '{"service":"web","version":"3.2.0"}', ""),
    ("check_disk", "", ""),
    ("clean_logs", "{}", ""),
    ("check_disk", "", "after the clean"),
    ("apply_deploy", '{\n  "version":"3.2.0",\n  "service":"web"\n}', "new lines, reordered"),
    ("clean_logs", "{}", "again"),
    ("build_config", '{"service":"web","version":"3.3.0"}', "another version"),
    ("verify", '{"service":"web"}', ""),
)
_DEDUP_TASK = "task-web-3.2.0-rollout"


def _keys_of(lab: ModuleType, task_id: str,
             calls: tuple[tuple[str, str, str], ...]) -> tuple[list[int], list[str]]:
    """The calls the executor can be judged on with your own keys: every read-only call,
    and each side effect unless your ``idempotency_key`` tells it apart from an earlier one
    that is the same call, or gives it the key of an earlier, different call. The indexes
    kept, and what was left out."""
    kept: list[int] = []
    left_out: list[str] = []
    seen: list[tuple[Any, tuple[str, str]]] = []
    for index, (name, arguments, _) in enumerate(calls):
        if name not in SIDE_EFFECTS:
            kept.append(index)
            continue
        call = (name, _same_call(arguments))
        try:
            key = lab.idempotency_key(task_id, name, arguments)
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - a key that cannot be made: key-is-deterministic's
            left_out.append(f"{name} #{index + 1} (no key)")
            continue
        if any((k == key) != (c == call) for k, c in seen):
            left_out.append(f"{name} #{index + 1}")
            continue
        seen.append((key, call))
        kept.append(index)
    return kept, left_out


def _expected_replies(calls: list[tuple[str, str]], disk: int) -> list[str]:
    """What a server gives when each side effect runs once per call and a repeat gets the
    first reply: the same calls on a fresh model of the server."""
    model, first = DevOpsTools(disk_percent=disk), {}
    replies = []
    for name, arguments in calls:
        if name not in SIDE_EFFECTS:
            replies.append(model.execute(name, arguments))
            continue
        call = (name, _same_call(arguments))
        if call not in first:
            first[call] = model.execute(name, arguments)
        replies.append(first[call])
    return replies


def tool_calls_deduplicated(lab: ModuleType | None = None) -> bool:
    """Through IdempotentTools, each side-effecting call runs once and every repeat (other
    spacing, key order) gets the first reply; read-only tools run every time and see what
    changed; a fresh executor with its own store and server runs the calls again there;
    run_once returns a finished key's result without running the action again."""
    lab = _lab(lab)
    problems: list[str] = []
    with FrozenClock():
        kept, left_out = _keys_of(lab, _DEDUP_TASK, _CALLS)
        calls = [(_CALLS[i][0], _CALLS[i][1]) for i in kept]
        tools = DevOpsTools(disk_percent=93)
        execute = lab.IdempotentTools(tools, MemoryKeyStore(), _DEDUP_TASK)
        seen = [_attempt(partial(execute, name, arguments)) for name, arguments in calls]
        expected = _expected_replies(calls, 93)
        for index, outcome, wanted in zip(kept, seen, expected):
            if not outcome.returned(wanted):
                name, arguments, note = _CALLS[index]
                problems.append(
                    f"call #{index + 1}, {name}({_same_call(arguments)})"
                    f"{f' ({note})' if note else ''}: {outcome}; expected {wanted!r}"
                )
                break
        runs = {name: tools.calls[name] for name in sorted(SIDE_EFFECTS)}
        wanted_runs = {name: len({_same_call(a) for n, a in calls if n == name})
                       for name in sorted(SIDE_EFFECTS)}
        if runs != wanted_runs:
            problems.append(f"the side effects ran {runs}; expected {wanted_runs} (once per "
                            "call, a repeat never runs)")
        fresh_tools = DevOpsTools(disk_percent=93)
        fresh = lab.IdempotentTools(fresh_tools, MemoryKeyStore(), _DEDUP_TASK)
        again = [_attempt(partial(fresh, name, arguments)) for name, arguments in
                 (("build_config", '{"service":"web","version":"3.2.0"}'), ("clean_logs", "{}"))]
        if fresh_tools.calls["build_config"] != 1 or fresh_tools.calls["clean_logs"] != 1:
            problems.append(
                "a fresh executor of the same task, with its own key store and server: "
                f"build_config and clean_logs {'; '.join(map(str, again))}, and ran "
                f"{fresh_tools.calls['build_config']} and {fresh_tools.calls['clean_logs']} "
                "time(s) there; expected one run each (what an executor knows comes from its "
                "key store, not from the process)"
            )
        problems += _finished_key(lab)
    note = f" (left out, your keys decide them: {', '.join(left_out)})" if left_out else ""
    ran = ", ".join(f"{name} {times}x" for name, times in runs.items())
    return verdict(
        "tool-calls-deduplicated", problems,
        f"{len(calls)} calls: side effects ran {ran}, repeats got the first reply, read-only "
        f"tools ran every time{note}; a fresh executor ran its calls; a finished key's "
        "result came back",
    )


def _finished_key(lab: ModuleType) -> list[str]:
    keys, first, second = MemoryKeyStore(), _Work("cache flushed in eu-1"), _Work("flushed again")
    done = _attempt(lambda: lab.run_once(keys, "flush-eu-1-0918", "flush:eu-1", first))
    if not done.returned("cache flushed in eu-1"):
        return [f"run_once, a new key: {done}; expected the action's result"]
    repeat = _attempt(lambda: lab.run_once(keys, "flush-eu-1-0918", "flush:eu-1", second))
    if not repeat.returned("cache flushed in eu-1") or second.runs:
        return [f"run_once again under a finished key, same params: {repeat}, the action ran "
                f"{count(second.runs, 'time')}; expected the stored result, no run"]
    return []


# -- lab02.key-is-deterministic ------------------------------------------------------------


def key_is_deterministic(lab: ModuleType | None = None) -> bool:
    """One call, however its arguments are written, has one key, 90 minutes later, with
    the random module reseeded and with ``hash()`` salted as in another process; another
    version, task, tool, list order or string, or parts that run together, give another
    key; every way of writing no arguments is one text."""
    lab = _lab(lab)
    problems: list[str] = []
    limits = '"limits":{"cpu":2,"mem":"4G"}'
    base = (f'{{"service":"api","version":"7.0.3","hosts":["api-1","api-2"],'
            f'"note":"drain api-1 first",{limits}}}')
    spellings: dict[str, str | Mapping[str, Any]] = {
        "keys reordered": ('{"limits":{"mem":"4G","cpu":2},"note":"drain api-1 first",'
                           '"hosts":["api-1","api-2"],"version":"7.0.3","service":"api"}'),
        "other spacing": ('{\n  "service" : "api",\n  "version": "7.0.3",\n  "hosts": '
                          '[ "api-1", "api-2" ],\n  "note": "drain api-1 first",\n  "limits": '
                          '{ "cpu": 2, "mem": "4G" }\n}'),
        "a mapping": {"version": "7.0.3", "limits": {"mem": "4G", "cpu": 2}, "service": "api",
                      "note": "drain api-1 first", "hosts": ["api-1", "api-2"]},
    }
    others = {
        "another version": (ROLLOUT, "apply_deploy", base.replace("7.0.3", "7.0.4")),
        "another task": ("task-api-hotfix", "apply_deploy", base),
        "another tool": (ROLLOUT, "build_config", base),
        "the hosts in another order": (ROLLOUT, "apply_deploy",
                                       base.replace('"api-1","api-2"', '"api-2","api-1"')),
        "another note ('drainapi-1first')": (ROLLOUT, "apply_deploy",
                                             base.replace("drain api-1 first",
                                                          "drainapi-1first")),
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
        with mock.patch.object(lab, "hash", lambda value: real_hash(("salt", value)),
                               create=True):
            elsewhere = _attempt(keys)
        empty = [_attempt(partial(lab.canonical_arguments, text)) for text in ("", "{}", " { } ", {})]
        no_arguments = [_attempt(partial(lab.idempotency_key, ROLLOUT, "clean_logs", text))
                        for text in ("", "{}")]
    if first.error is not None:
        return verdict("key-is-deterministic", [f"idempotency_key {first}"], "")
    first_keys = first.value
    if not all(isinstance(key, str) and key for key in first_keys.values()):
        problems.append(f"idempotency_key returned {short(first_keys['base'])}; expected a "
                        "non-empty str")
    if later.value != first_keys:
        problems.append("the same calls got other keys 90 minutes later, with the random "
                        "module reseeded: the key depends on the time or on randomness")
    if elsewhere.value != first_keys:
        problems.append("the same calls got other keys once hash() changed, as it does in "
                        "every new process (PYTHONHASHSEED): use a digest such as SHA-256")
    differ = [name for name in spellings if first_keys[name] != first_keys["base"]]
    if differ:
        problems.append(f"the same call written another way ({', '.join(differ)}) got another "
                        "key: derive it from the canonical arguments")
    shared = [name for name in others if first_keys[name] == first_keys["base"]]
    if shared:
        problems.append(f"these calls share the key of apply_deploy(api, 7.0.3) in "
                        f"{ROLLOUT}: {', '.join(shared)}")
    texts = [outcome.value for outcome in empty]
    if any(o.error is not None for o in empty) or not all(isinstance(t, str) for t in texts) \
            or len(set(texts)) != 1:
        problems.append(f"canonical_arguments of '', '{{}}', ' {{ }} ' and {{}}: "
                        f"{', '.join(str(o) for o in empty)}; expected one text for no "
                        "arguments")
    elif any(o.error is not None for o in no_arguments) \
            or no_arguments[0].value != no_arguments[1].value:
        problems.append("clean_logs with '' and with '{}' (both: no arguments) got two keys")
    return verdict(
        "key-is-deterministic", problems,
        "one key for 4 spellings of one call, 90 min later with random reseeded, and with "
        f"hash() salted; {len(others)} other keys for other calls (version, task, tool, list "
        "order, a string's spaces, parts run together); one text for no arguments",
    )


# -- lab02.params-mismatch-conflict -----------------------------------------------------------


def params_mismatch_conflict(lab: ModuleType | None = None) -> bool:
    """A key reused with other params raises the lab's IdempotencyConflict naming the key,
    runs nothing and leaves the first record as it was; the same while the first call still
    runs, and after a first call whose params were empty."""
    lab = _lab(lab)
    problems: list[str] = []
    keys, runs = MemoryKeyStore(), []
    key = "scale-api-0412"

    def scale(replicas: int) -> Callable[[], str]:
        def action() -> str:
            runs.append(replicas)
            return f"api scaled to {replicas} replicas"

        return action

    first = _attempt(partial(lab.run_once, keys, key, "scale:api:replicas=3", scale(3)))
    second = _attempt(partial(lab.run_once, keys, key, "scale:api:replicas=5", scale(5)))
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
    if 5 in runs or params != "scale:api:replicas=3":
        problems.append(
            f"after the conflict: the actions that ran {runs}, the key holds params "
            f"{short(params)}; expected the replicas=5 action never run and the first params "
            "kept"
        )
    inner = _Work("db-2 resized to 80GB")
    while_running: list[Outcome] = []

    def resize() -> str:
        while_running.append(_attempt(partial(lab.run_once, keys, "resize-db-2-77",
                                              "resize:db-2:80GB", inner)))
        return "db-2 resized to 40GB"

    _attempt(partial(lab.run_once, keys, "resize-db-2-77", "resize:db-2:40GB", resize))
    if not while_running or not while_running[0].raised(lab.IdempotencyConflict) or inner.runs:
        problems.append(
            "key resize-db-2-77 reused with 80GB while its 40GB call was still running: "
            f"{while_running[0] if while_running else 'never asked'}; expected your "
            "IdempotencyConflict, even while it runs (KeyInProgress would send the caller "
            "back with the wrong request)"
        )
    later = _Work("cache flushed in eu")
    _attempt(partial(lab.run_once, keys, "flush-cache-9", "", _Work("cache flushed")))
    empty = _attempt(partial(lab.run_once, keys, "flush-cache-9", "flush:cache:region=eu", later))
    if not empty.raised(lab.IdempotencyConflict) or later.runs:
        problems.append(f"key flush-cache-9 first used with empty params, then with "
                        f"'flush:cache:region=eu': {empty}; expected your IdempotencyConflict "
                        "(an empty text is params too)")
    return verdict(
        "params-mismatch-conflict", problems,
        f"replicas=3, then 5 under {key}: {type(second.error).__name__} naming the key, the "
        "first params kept; other params while running, and after empty params: conflicts",
    )


# -- lab02.failure-not-cached ---------------------------------------------------------------


class _Interrupted(BaseException):
    """Stands for KeyboardInterrupt: an action stopped by something that is not an Exception."""


def failure_not_cached(lab: ModuleType | None = None) -> bool:
    """A failed action is re-raised and not stored: the same key runs it again until it
    succeeds; an interrupted action does not leave its key claimed; through the executor,
    a failed clean_logs runs again."""
    lab = _lab(lab)
    problems: list[str] = []
    keys, attempts = MemoryKeyStore(), []
    errors = [ToolFailure("card network timeout"), ConnectionResetError("peer reset")]

    def charge() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return f"charged 12.50 EUR on attempt {len(attempts)}"

    calls, left = [], []
    for _ in range(3):
        calls.append(_attempt(lambda: lab.run_once(keys, "charge-inv-5521", "charge:12.50",
                                                   charge)))
        left.append(keys.get("charge-inv-5521"))
    expected = "charged 12.50 EUR on attempt 3"
    if not (calls[0].error is errors[0] and calls[1].error is errors[1]
            and calls[2].returned(expected) and len(attempts) == 3):
        problems.append(
            "an action failing twice, then succeeding, called 3 times under one key: "
            + "; ".join(map(str, calls))
            + f" ({count(len(attempts), 'attempt')}); expected the ToolFailure and the "
              f"ConnectionResetError re-raised as they are, then {expected!r} (3 attempts)"
        )
    elif left[0] is not None or left[1] is not None:
        problems.append(f"after a failure the key is still stored ({short(left[0] or left[1])}); "
                        "delete it, so that a failure is never stored")
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
    execute = lab.IdempotentTools(tools, MemoryKeyStore(), "task-db-7-space")
    cleans = [_attempt(partial(execute, "clean_logs", "{}")) for _ in range(2)]
    cleaned = "Logs cleaned. Freed 20GB. Disk now at 71%."
    if not (cleans[0].raised(ToolFailure) and cleans[1].returned(cleaned)
            and tools.calls["clean_logs"] == 2):
        problems.append(
            "clean_logs through IdempotentTools, failing once, then asked again: "
            + "; ".join(map(str, cleans))
            + f" ({count(tools.calls['clean_logs'], 'run')}); expected the ToolFailure, "
              "then a real clean (the failure was not stored)"
        )
    return verdict(
        "failure-not-cached", problems,
        f"failed, failed (re-raised, the key released), then {expected!r}; interrupted, then "
        "run again; clean_logs failed once, then ran: 2 runs, disk 71%",
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


class _RivalStore(MemoryTaskStore):
    """A task store in which another executor acts on the task right after your first
    read: ``rival(store, task_read)`` runs before you get what you read."""

    def __init__(self, rival: Callable[["_RivalStore", Task], None]) -> None:
        super().__init__()
        self.rival = rival
        self.acted = False

    def get(self, task_id: str) -> Task | None:
        found = super().get(task_id)
        if found is not None and not self.acted:
            self.acted = True
            self.rival(self, found)
        return found


def _rival_claims(then: TaskState | None = None) -> Callable[[_RivalStore, Task], None]:
    def rival(store: _RivalStore, task: Task) -> None:
        running = replace(task, state=TaskState.RUNNING, error=None, updated_at=task.updated_at + 1)
        MemoryTaskStore.compare_and_set(store, running, task.state)
        if then is TaskState.COMPLETED:
            store.save(replace(running, state=TaskState.COMPLETED, result="migrated by the other"))
        elif then is TaskState.FAILED:
            store.save(replace(running, state=TaskState.FAILED, error="ToolFailure: lock lost"))

    return rival


def _rivals(lab: ModuleType) -> list[str]:
    """Another executor claims the task between your read and your claim (and finishes it,
    or fails it); a task found running; a key found claimed and not done."""
    cases = [
        ("claims the pending task", TaskState.PENDING, None, None),
        ("claims the failed task", TaskState.FAILED, None, None),
        ("claims the pending task and completes it", TaskState.PENDING, TaskState.COMPLETED,
         "migrated by the other"),
        ("claims the pending task, whose work then fails", TaskState.PENDING, TaskState.FAILED,
         None),
    ]
    problems = []
    for label, state, then, result in cases:
        store = _RivalStore(_rival_claims(then))
        store.save(Task(id="task-migrate-db-4", user_input="Migrate db-4", state=state,
                        error="ToolFailure: earlier" if state is TaskState.FAILED else None))
        work = _Work("migrated by you")
        ticks = itertools.count(100)
        seen = _attempt(lambda: lab.execute_task(store, "task-migrate-db-4", work,
                                                 now=lambda: float(next(ticks))))
        right = seen.returned(result) if result is not None else seen.raised(lab.TaskInProgress)
        if work.runs or not right:
            wanted = repr(result) if result is not None else "your TaskInProgress"
            problems.append(
                f"another executor {label} right after your read: you {seen}, your work ran "
                f"{count(work.runs, 'time')}; expected {wanted} and no run (claim with "
                "compare_and_set(running, expected=<the state you read>))"
            )
    store = MemoryTaskStore()
    store.save(Task(id="task-migrate-db-5", user_input="Migrate db-5", state=TaskState.RUNNING))
    work = _Work("migrated twice")
    seen = _attempt(lambda: lab.execute_task(store, "task-migrate-db-5", work, now=lambda: 7.0))
    if work.runs or not seen.raised(lab.TaskInProgress) or len(store.saves) != 1:
        problems.append(
            f"a task another executor is running: you {seen}, the work ran "
            f"{count(work.runs, 'time')}, {count(len(store.saves) - 1, 'version')} saved; "
            "expected your TaskInProgress, no run and no write"
        )
    keys, inner, found = MemoryKeyStore(), _Work("migrated twice"), []

    def outer() -> str:
        found.append(_attempt(partial(lab.run_once, keys, "migrate-db-6", "migrate:db-6", inner)))
        return "db-6 migrated"

    _attempt(partial(lab.run_once, keys, "migrate-db-6", "migrate:db-6", outer))
    if not found or not found[0].raised(lab.KeyInProgress) or inner.runs:
        problems.append(
            "key migrate-db-6 asked again, same params, while its first call runs: "
            f"{found[0] if found else 'never asked'}, the action ran {count(inner.runs, 'time')}"
            "; expected your KeyInProgress and no run"
        )
    return problems


class _LinedUpKeys(LinedUpKeyStore):
    """A key store whose first read or claim in each thread waits, once done, for the other
    thread's: the winner of ``put_if_absent`` does not run its action (and cannot release
    the key) before the other racer has tried to claim the key too."""

    def put_if_absent(self, record: KeyRecord) -> KeyRecord | None:
        found = super().put_if_absent(record)
        self.rendezvous.meet()
        return found


def concurrent_once(lab: ModuleType | None = None) -> bool:
    """Two executors that execute one task, or run one key, at the same moment run the work
    once; the other gets the result or the lab's in-progress error. Another executor acting
    between your read and your claim, a task already running, a key already claimed: you
    never run the work."""
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
        keys = _LinedUpKeys()
        work = _Work(result, seconds_=RACE_WORK)
        return (lambda: lab.run_once(keys, f"migrate-db-2-v14-{number}", "migrate:db-2:v14",
                                     work)), work

    problems = _rivals(lab) + _race_rounds(
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
        "another executor claiming (then completing or failing) between your read and "
        "claim: you never ran the work; a running task and a claimed key: in progress; "
        f"{RACE_ROUNDS} rounds of two threads on one task and on one key: the work ran once",
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
