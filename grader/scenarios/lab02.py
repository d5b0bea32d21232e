"""Lab 02 scenarios: tasks and idempotency keys, alone, in the agent loop, and in a race.

The clocks are detached (:class:`labs.kit.clock.FrozenClock`): the ``now`` handed to the
submission reads a clock of its own, while ``time.time()`` and ``datetime.now()`` stand
still a month earlier, so a timestamp taken from the wrong clock shows. Argument texts and
calls for the keys are also generated from a seed (:func:`argument_forms`), so that the
checks can say what the contract makes of each one.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import importlib.util
import itertools
import json
import random
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from collections import ChainMap
from types import MappingProxyType, ModuleType
from typing import Any
from unittest import mock

from grader.observe import describe_error, outcome, plain, required, type_name
from grader.scenarios import Registry, raised_from
from labs.kit.agent import run_agent, start_messages
from labs.kit.clock import FrozenClock
from labs.kit.devops import SIDE_EFFECTS, DevOpsTools, ToolFailure
from labs.kit.fake_llm import FakeLLM, reply, tool_call
from labs.kit.keystore import KeyRecord, MemoryKeyStore
from labs.kit.race import MEET_WAIT, LinedUpKeyStore, LinedUpTaskStore, race
from labs.kit.tasks import MemoryTaskStore, Task, TaskState

SCENARIOS = Registry(process_clock_stopped=True)
#: Rounds of the race: each one is decided by the rendezvous, so a few are plenty.
RACE_ROUNDS = 25
#: Real seconds a racing thread may take before the round counts as hung.
RACE_JOIN = 5.0


def _task(task: Any) -> Any:
    """A task as plain data; anything that is not a kit Task is reported by its type."""
    if not isinstance(task, Task):
        return {"unserialisable": type_name(task)}
    state = task.state
    return {
        "id_is_text": type(task.id) is str and bool(task.id),
        "user_input": plain(task.user_input),
        "state": state.value if isinstance(state, TaskState) else plain(state),
        "result": plain(task.result),
        "error": plain(task.error),
        "created_at": plain(task.created_at),
        "updated_at": plain(task.updated_at),
    }


def _raised(error: BaseException, *kinds: type[BaseException]) -> dict[str, Any]:
    seen = describe_error(error)
    seen["expected_type"] = isinstance(error, kinds) if kinds else False
    return seen


class _Work:
    """The work of a task: counts its runs, moves the clock, returns or raises."""

    def __init__(self, clock: FrozenClock | None, seconds: float, result: str,
                 error: Exception | None = None) -> None:
        self.clock, self.seconds, self.result, self.error = clock, seconds, result, error
        self.runs = 0
        self.given: Any = None
        self._lock = threading.Lock()

    def __call__(self, task: Task) -> str:
        with self._lock:
            self.runs += 1
            self.given = _task(task)
        if self.clock is not None:
            self.clock.advance(self.seconds)
        else:
            threading.Event().wait(self.seconds)  # real time: keeps a racing sibling waiting
        if self.error is not None:
            raise self.error
        return self.result


@SCENARIOS.scenario
def lifecycle(lab: ModuleType) -> dict[str, Any]:
    """A task created, claimed after 5 s, worked on for 42 s; another one failing after 7 s;
    two tasks created in the same frozen instant."""
    seen: dict[str, Any] = {}
    with FrozenClock(detached=True) as clock:
        t0 = clock.now()
        seen["t0"] = t0
        for name, work in (
            ("success", _Work(clock, 42.0, "Freed 20GB on web-1")),
            ("failure", _Work(clock, 7.0, "", ToolFailure("disk is busy"))),
            ("chained", _Work(clock, 3.0, "", _chained_failure())),
        ):
            store = MemoryTaskStore()
            start = clock.now()
            created = outcome(lambda: lab.create_task(store, f"Free disk ({name})", now=clock.now),
                              keep=_task)
            task_id = store.saves[0].id if store.saves else None
            clock.advance(5.0)
            executed = outcome(
                lambda: lab.execute_task(store, task_id, work, now=clock.now),
                describe=lambda e: _raised(e, ToolFailure),
            )
            seen[name] = {
                "start": start - t0,
                "created": created,
                "executed": executed,
                "work_runs": work.runs,
                "work_given": work.given,
                "history": [_task(t) for t in store.history(task_id)] if task_id else [],
                "saves": len(store.saves),
            }
        seen["failures"] = _failing_works(lab, clock, failure_kinds())
        seen["messages_as_given"] = _failing_works(lab, clock, messages_as_given())
        seen["own_failures"] = _own_failures(lab, clock)
        store = MemoryTaskStore()
        ahead = clock.now() + 3600.0  # stamped by a machine whose clock runs an hour ahead
        store.save(Task(id="task-stamped-ahead", user_input="deploy web", created_at=ahead,
                        updated_at=ahead))
        work = _Work(clock, 4.0, "deployed")
        before = clock.now()
        outcome(lambda: lab.execute_task(store, "task-stamped-ahead", work, now=clock.now))
        seen["clock_behind"] = {
            "now": before, "ahead": ahead,
            "history": [_task(t) for t in store.history("task-stamped-ahead")][1:]}
        store = MemoryTaskStore()
        store.save(Task(id="task-epoch", user_input="report", created_at=0.0, updated_at=0.0))
        padded = _Work(clock, 1.0, "  Freed 20GB on web-1\n")
        returned = outcome(lambda: lab.execute_task(store, "task-epoch", padded, now=clock.now))
        seen["edges"] = {"returned": returned,
                         "history": [_task(t) for t in store.history("task-epoch")][1:]}
        store = MemoryTaskStore()
        made = [outcome(lambda text=text: lab.create_task(store, text, now=clock.now))
                for text in ("first", "second", "Free disk on web-1", "Free disk on web-1")]
        # two more processes, each with its module loaded afresh, each creating a task
        made += [outcome(lambda: _another_process(lab).create_task(store, "Free disk on web-1",
                                                                  now=clock.now))
                 for _ in range(2)]
        ids = [t.id for t in store.saves]
        seen["reseeded"] = _reseeded_ids(lab, clock)
        seen["same_instant"] = {
            "raised": [r["raised"] for r in made if "raised" in r],
            "stored": len(store),
            "distinct_ids": len(ids) == 6 and all(type(i) is str for i in ids)
            and len(set(ids)) == 6,
        }
    return seen


def _failing_works(lab: ModuleType, clock: FrozenClock,
                   kinds: dict[str, Exception]) -> dict[str, Any]:
    """A task per failure of ``kinds``, its work raising it: what execute_task did (the
    exception itself re-raised?) and the states and error saved."""
    seen = {}
    for name, error in kinds.items():
        store = MemoryTaskStore()
        store.save(Task(id=f"task-{name}", user_input=f"deploy ({name})",
                        created_at=clock.now(), updated_at=clock.now()))
        work = _Work(clock, 2.0, "", error)
        executed = outcome(lambda: lab.execute_task(store, f"task-{name}", work,
                                                    now=clock.now),
                           describe=lambda e, error=error: {**_raised(e, type(error)),
                                                            "itself": e is error})
        seen[name] = {
            "executed": executed,
            "states": [_task(t)["state"] for t in store.history(f"task-{name}")],
            "final": _task(store.get(f"task-{name}")),
        }
    return seen


def _own_failure_works(lab: ModuleType, clock: FrozenClock) -> dict[str, Callable[[], Any]]:
    """What a work may do that raises one of the lab's own exceptions: raise it itself, or
    execute a sub-task or make a keyed call that raises it (an unknown sub-task, one running
    elsewhere, a key another executor holds, a key reused with other params)."""
    running = MemoryTaskStore()
    running.save(Task(id="task-sub-running", user_input="rotate the logs",
                      state=TaskState.RUNNING, created_at=clock.now(), updated_at=clock.now()))
    held = MemoryKeyStore()
    held.put(KeyRecord("idem-sub-held", "deploy:web"))
    held.put(KeyRecord("idem-sub-done", "refund:10", done=True, result="refunded 10 EUR"))

    def raises(error: Exception) -> Callable[[], Any]:
        def work() -> Any:
            raise error

        return work

    return {
        "raises TaskNotFound": raises(lab.TaskNotFound("task-sub-1")),
        "raises TaskInProgress": raises(lab.TaskInProgress("task-sub-2")),
        "raises KeyInProgress": raises(lab.KeyInProgress("idem-sub-3")),
        "raises IdempotencyConflict": raises(
            lab.IdempotencyConflict("idem-sub-4", "refund:10", "refund:99")),
        "executes an unknown sub-task": lambda: lab.execute_task(
            MemoryTaskStore(), "task-sub-missing", lambda task: "sub-task done", now=clock.now),
        "executes a sub-task running elsewhere": lambda: lab.execute_task(
            running, "task-sub-running", lambda task: "sub-task done", now=clock.now),
        "makes a keyed call another executor holds": lambda: lab.run_once(
            held, "idem-sub-held", "deploy:web", lambda: "deployed"),
        "reuses a key with other params": lambda: lab.run_once(
            held, "idem-sub-done", "refund:99", lambda: "refunded 99 EUR"),
    }


def _own_failures(lab: ModuleType, clock: FrozenClock) -> dict[str, Any]:
    """Tasks whose work raises one of the lab's own exceptions (raised by the work itself,
    or by a sub-task or keyed call it makes): what the work raised (its class's name and
    text, when it raised an Exception), what execute_task did, and the states saved."""
    seen = {}
    for number, (name, body) in enumerate(_own_failure_works(lab, clock).items()):
        task_id = f"task-own-{number}"
        store = MemoryTaskStore()
        store.save(Task(id=task_id, user_input=f"deploy ({name})", created_at=clock.now(),
                        updated_at=clock.now()))
        raised: list[Any] = []

        def work(task: Task, body: Callable[[], Any] = body,
                 raised: list[Any] = raised) -> str:
            try:
                body()
            except NotImplementedError:
                raise
            except Exception as error:
                raised.append({"type": type(error).__name__, "text": str(error),
                               "error": error})
                raise
            return "sub-work done"

        executed = outcome(lambda: lab.execute_task(store, task_id, work, now=clock.now),
                           describe=lambda e, raised=raised: {
                               **describe_error(e),
                               "itself": bool(raised) and e is raised[0]["error"]})
        seen[name] = {
            "work_raised": ({"type": raised[0]["type"], "text": raised[0]["text"]}
                            if raised else None),
            "executed": executed,
            "states": [_task(t)["state"] for t in store.history(task_id)],
            "final": _task(store.get(task_id)),
        }
    return seen


class _TickingClock:
    """A ``now`` that moves on at every reading, by a fraction of a second, from a time
    that is not a whole second: no two readings are the same instant, none is a whole
    second. It keeps every reading, in order."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next = 1767258000.0 + rng.uniform(0.05, 0.95)
        self.readings: list[float] = []

    def __call__(self) -> float:
        value = self._next
        self.readings.append(value)
        step = self._rng.uniform(0.05, 0.95)
        while float(int(value + step)) == value + step:
            step = self._rng.uniform(0.05, 0.95)
        self._next = value + step
        return value


#: The seed the ticking clocks' starts and steps come from.
TICKING_SEED = 1102


@SCENARIOS.scenario
def ticking_clock(lab: ModuleType) -> dict[str, Any]:
    """Tasks created and executed (to success, to failure, a failed one again) with a
    ``now`` that moves on at every reading, by fractions of a second: which readings the
    stamps of every version are, and where the work came among the readings."""
    rng = random.Random(TICKING_SEED)
    runs = []
    for round_ in range(3):
        for ending in ("completes", "fails", "fails, then completes"):
            clock = _TickingClock(rng)
            store = MemoryTaskStore()
            created = outcome(lambda: lab.create_task(store, f"Free disk ({ending})",
                                                      now=clock), keep=_task)
            after_create = len(clock.readings)
            task_id = store.saves[0].id if store.saves else None
            marks: list[int] = []

            def work(task: Task, fails: bool, marks: list[int] = marks,
                     clock: _TickingClock = clock) -> str:
                marks.append(len(clock.readings))
                if fails:
                    raise ToolFailure("disk is busy")
                return "Freed 20GB on web-1"

            executions = []
            for fails in {"completes": (False,), "fails": (True,),
                          "fails, then completes": (True, False)}[ending]:
                before = len(clock.readings)
                executions.append({
                    "before": before,
                    **outcome(lambda fails=fails: lab.execute_task(
                        store, task_id, lambda task: work(task, fails), now=clock),
                        describe=lambda e: _raised(e, ToolFailure)),
                    "after": len(clock.readings)})
            runs.append({
                "ending": ending,
                "created": created,
                "after_create": after_create,
                "work_at": marks,
                "executions": executions,
                "readings": list(clock.readings),
                "history": [_task(t) for t in store.history(task_id)] if task_id else [],
            })
    return {"runs": runs}


#: The seeds the process's ``random`` is seeded with again before each ``create_task``, as a
#: notebook making lab 01's jitter reproducible does: the same seed, again and again.
RESEEDS = (7, 7, 2402, 7)


def _reseeded_ids(lab: ModuleType, clock: FrozenClock) -> dict[str, Any]:
    """Tasks created with the process's ``random`` seeded again before each one (the same
    seed mostly), the last by the module loaded afresh; the generator's state is put back
    afterwards."""
    state = random.getstate()
    store = MemoryTaskStore()
    try:
        made = []
        for seed in RESEEDS:
            random.seed(seed)
            made.append(outcome(lambda: lab.create_task(store, "Free disk on web-1",
                                                        now=clock.now)))
        random.seed(RESEEDS[0])
        fresh = _another_process(lab)
        random.seed(RESEEDS[0])
        made.append(outcome(lambda: fresh.create_task(store, "Free disk on web-1",
                                                      now=clock.now)))
    finally:
        random.setstate(state)
    ids = [t.id for t in store.saves]
    return {"raised": [r["raised"] for r in made if "raised" in r], "created": len(made),
            "saved": len(ids), "stored": len(store),
            "distinct_ids": len(set(ids)) == len(ids) and all(type(i) is str for i in ids)}


def failure_kinds() -> dict[str, Exception]:
    """Failures of every kind a work may raise, not only the tools' own ``ToolFailure``: a
    built-in error, a ``TimeoutError``, lab 01's ``RetryError`` as a wrapper raises it,
    classes defined inside a function and inside a class, whose ``__qualname__`` is not
    their ``__name__``, a ``KeyError`` (not an unknown task: the work's own), and an error
    with no message, and exception groups (as ``asyncio.TaskGroup`` raises them: of one
    failure, of two, nested). The contract: ``error`` is ``"<type(e).__name__>: <e>"`` for
    each (``"TimeoutError: "`` for the empty one, ``"ExceptionGroup: deploy (1
    sub-exception)"`` for a group: its own text, not a sub-exception's)."""

    def local_class() -> Exception:
        class DiskFull(Exception):
            pass

        return DiskFull("/var is full on web-1")

    class Deploy:
        class Rejected(Exception):
            pass

    class RetryError(Exception):  # as lab 01's: a wrapper gave up
        pass

    return {
        "value_error": ValueError("replicas must be positive, got -2"),
        "timeout_error": TimeoutError("the deploy did not finish in 300 s"),
        "retry_error": RetryError("gave up after 3 attempts: 503"),
        "local_class": local_class(),
        "nested_class": Deploy.Rejected("canary failed its health check"),
        "key_error": KeyError("replicas"),
        "empty_message": TimeoutError(),
        "several_lines": RuntimeError("deploy failed:\nweb-1: timed out\nweb-2: refused"),
        **_exception_groups(),
    }


def messages_as_given() -> dict[str, Exception]:
    """Failures whose message must be recorded as it is: messages that are not ASCII
    (accents, CJK, emoji, a no-break space; fixed ones and some generated from a seed),
    and exceptions carrying notes (``add_note``, Python 3.11 and later: a retry layer's
    'attempt 3 of 3'). The contract: ``error`` is ``"<type(e).__name__>: <str(e)>"``
    exactly, characters as they are (no escaping), and no note (``str(e)`` has none)."""
    rng = random.Random(ARGUMENTS_SEED + 7)
    kinds: dict[str, Exception] = {
        "accented": ValueError("volume « données » is full"),
        "japanese": RuntimeError("デプロイに失敗しました: web-1 が応答しません"),
        "emoji": ToolFailure("deploy failed 🚀 on web-2 ✗"),
        "korean_in_a_key_error": KeyError("웹-서버"),
        **{f"generated_{n}": ToolFailure(f"disk {_unicode_text(rng)} is full on "
                                         f"{_unicode_text(rng)}") for n in range(3)},
    }
    if sys.version_info >= (3, 11):
        for name, error, notes in (
                ("one_note", ToolFailure("db-2 is read-only"), ("while deploying checkout",)),
                ("two_notes", TimeoutError("web-1 timed out"),
                 ("attempt 3 of 3", "gave up after 42 s")),
                ("a_note_on_an_empty_message", ValueError(), ("replicas was -2",)),
                ("a_note_not_ascii", ValueError("réplicas négatives"), ("déploiement « web »",)),
                ("a_group_with_a_note", ExceptionGroup(
                    "deploy", [ToolFailure("db-2 is read-only")]), ("during the rollout",))):
            for note in notes:
                error.add_note(note)
            kinds[name] = error
    return kinds


def _exception_groups() -> dict[str, Exception]:
    """Exception groups a work may raise (Python 3.11 and later have them)."""
    if sys.version_info < (3, 11):
        return {}
    return {
        "group_of_one": ExceptionGroup("deploy", [ToolFailure("db-2 is read-only")]),
        "group_of_two": ExceptionGroup("deploy", [ToolFailure("db-2 is read-only"),
                                                  TimeoutError("web-1 timed out")]),
        "nested_group": ExceptionGroup("rollout", [ExceptionGroup(
            "web", [ValueError("replicas must be positive, got -2")])]),
    }


def _chained_failure() -> Exception:
    """A failure raised from another one (``raise ToolFailure(...) from ...``)."""
    return raised_from(ToolFailure("apply_deploy failed"), ConnectionResetError("peer reset"))


def _another_process(lab: ModuleType) -> ModuleType:
    """The submission's module loaded afresh, as another process would load it: none of
    the first load's module-level state is shared."""
    name = f"{lab.__name__}_again"
    spec = importlib.util.spec_from_file_location(name, lab.__file__)
    fresh = importlib.util.module_from_spec(spec)
    sys.modules[name] = fresh  # as an import would (dataclasses look their module up)
    try:
        spec.loader.exec_module(fresh)  # type: ignore[union-attr]
    finally:
        del sys.modules[name]
    return fresh


@SCENARIOS.scenario
def completed_rerun(lab: ModuleType) -> dict[str, Any]:
    """A task executed, then executed twice more."""
    with FrozenClock(detached=True) as clock:
        store = MemoryTaskStore()
        task = Task(id="task-report-17", user_input="Summarise the incident",
                    created_at=clock.now(), updated_at=clock.now())
        store.save(task)
        work = _Work(clock, 12.0, "Incident summary: disk full at 03:12")
        first = outcome(lambda: lab.execute_task(store, task.id, work, now=clock.now))
        saves_after_first = len(store.saves)
        clock.advance(60.0)
        again = [
            outcome(lambda: lab.execute_task(store, task.id, work, now=clock.now))
            for _ in range(2)
        ]
        clock.advance(3 * 86400.0)
        again.append(outcome(lambda: lab.execute_task(store, task.id, work, now=clock.now)))
        empty_store = MemoryTaskStore()
        quiet = Task(id="task-quiet-3", user_input="Rotate the logs, say nothing",
                     created_at=clock.now(), updated_at=clock.now())
        empty_store.save(quiet)
        silent = _Work(clock, 2.0, "")
        empty = [outcome(lambda: lab.execute_task(empty_store, quiet.id, silent, now=clock.now))
                 for _ in range(3)]
        quiet_stored = _task(empty_store.get(quiet.id))
        none_store = MemoryTaskStore()
        bare = Task(id="task-bare-4", user_input="Ping the load balancer",
                    state=TaskState.COMPLETED, result=None, created_at=clock.now(),
                    updated_at=clock.now())
        none_store.save(bare)
        ping = _Work(clock, 1.0, "pinged")
        replayed = outcome(lambda: lab.execute_task(none_store, bare.id, ping, now=clock.now))
        leftover = {}
        for name, result in (("with_a_result", "logs rotated on web-1"), ("quietly", "")):
            store_ = MemoryTaskStore()
            done = Task(id=f"task-left-{name}", user_input="Rotate the logs",
                        state=TaskState.COMPLETED, result=result,
                        error="ToolFailure: gateway timeout (left over)",
                        created_at=clock.now(), updated_at=clock.now())
            store_.save(done)
            rotate = _Work(clock, 1.0, "rotated again")
            calls = [outcome(lambda: lab.execute_task(store_, done.id, rotate, now=clock.now))
                     for _ in range(2)]
            leftover[name] = {"stored_result": result, "calls": calls,
                              "work_runs": rotate.runs, "saves": len(store_.saves) - 1}
        conversations = {}
        for number, (name, messages) in enumerate(COMPLETED_CONVERSATIONS.items()):
            store_ = MemoryTaskStore()
            done = Task(id=f"task-talked-{number}", user_input="Deploy web 2.4.1",
                        state=TaskState.COMPLETED, result=f"deployed web@2.4.1 ({name})",
                        created_at=clock.now(), updated_at=clock.now(), messages=messages)
            store_.save(done)
            redeploy = _Work(clock, 1.0, "deployed again")
            calls = [outcome(lambda: lab.execute_task(store_, done.id, redeploy, now=clock.now))
                     for _ in range(2)]
            conversations[name] = {"stored_result": done.result, "calls": calls,
                                   "work_runs": redeploy.runs, "saves": len(store_.saves) - 1}
        return {
            "completed_mid_conversation": conversations,
            "completed_with_an_error": leftover,
            "no_result": {"work_runs": ping.runs, "saves": len(none_store.saves) - 1,
                          "replayed": replayed},
            "first": first,
            "again": again,
            "work_runs": work.runs,
            "saves_after_first": saves_after_first,
            "saves_after_again": len(store.saves),
            "final": _task(store.get(task.id)),
            "empty_result": {"calls": empty, "work_runs": silent.runs, "stored": quiet_stored},
        }


@SCENARIOS.scenario
def unknown_task(lab: ModuleType) -> dict[str, Any]:
    """Executing an id no task has, in a store that holds another task."""
    with FrozenClock(detached=True) as clock:
        store = MemoryTaskStore()
        store.save(Task(id="task-known-1", user_input="x", created_at=clock.now(),
                        updated_at=clock.now()))
        work = _Work(clock, 1.0, "should not run")
        missing = "task-9f2c-missing"
        seen = outcome(
            lambda: lab.execute_task(store, missing, work, now=clock.now),
            describe=lambda e: _raised(e, lab.TaskNotFound),
        )
        if "raised" in seen:
            seen["raised"]["names_the_id"] = missing in seen["raised"]["message"]
        seen["work_runs"] = work.runs
        seen["saves"] = len(store.saves) - 1
        seen["missing_created"] = store.get(missing) is not None
        near = {}
        for unknown in NEAR_IDS:
            saves_before = len(store.saves)
            near[unknown] = outcome(lambda unknown=unknown: lab.execute_task(
                store, unknown, work, now=clock.now),
                describe=lambda e: {**_raised(e, lab.TaskNotFound),
                                    "task_id": plain(getattr(e, "task_id", None))})
            near[unknown]["saves"] = len(store.saves) - saves_before
            if "raised" in near[unknown]:
                raised = near[unknown]["raised"]
                raised["names_the_id"] = unknown in raised["message"] \
                    and raised["task_id"] == unknown
        seen["near"] = near
        seen["work_runs_near"] = work.runs - seen["work_runs"]
        seen["normalised"] = []
        for stored, given in NORMALISED_IDS:
            table = MemoryTaskStore()
            table.save(Task(id=stored, user_input="deploy web", created_at=clock.now(),
                            updated_at=clock.now()))
            runs = work.runs
            case = outcome(lambda table=table, given=given: lab.execute_task(
                table, given, work, now=clock.now),
                describe=lambda e: {**_raised(e, lab.TaskNotFound),
                                    "task_id": plain(getattr(e, "task_id", None))})
            if "raised" in case:
                raised = case["raised"]
                raised["names_the_id"] = given in raised["message"] \
                    and raised["task_id"] == given
            case["saves"] = len(table.saves) - 1
            case["work_runs"] = work.runs - runs
            seen["normalised"].append(case)
        seen["protocol_store"] = {}
        for name, stored in (("empty", ()), ("holding another", ("task-known-1",))):
            table = MemoryTaskStore()
            for task_id in stored:
                table.save(Task(id=task_id, user_input="x", created_at=clock.now(),
                                updated_at=clock.now()))
            writes, runs = len(table.saves), work.runs
            case = outcome(lambda table=table: lab.execute_task(_ProtocolTaskStore(table),
                                                                missing, work, now=clock.now),
                           describe=lambda e: _raised(e, lab.TaskNotFound))
            if "raised" in case:
                case["raised"]["names_the_id"] = missing in case["raised"]["message"]
            case["saves"] = len(table.saves) - writes
            case["work_runs"] = work.runs - runs
            seen["protocol_store"][name] = case
        return seen


class _ProtocolTaskStore:
    """A task store with exactly the methods of the ``TaskStore`` protocol (``get``,
    ``save``, ``compare_and_set``), as lab 04's file and SQLite stores are: nothing else of
    ``MemoryTaskStore`` (no ``saves``, no ``history``, no ``len``)."""

    def __init__(self, table: MemoryTaskStore) -> None:
        self.get = table.get
        self.save = table.save
        self.compare_and_set = table.compare_and_set


#: Ids no task has, next to the stored ``task-known-1``: each is unknown as it is given.
NEAR_IDS = ("", "task-known-1\n", " task-known-1", "TASK-KNOWN-1", "known-1",
            "task-known-1-" + "9f2c" * 40)


#: ``(stored, given)``: ids no task has, each a Unicode normalisation (NFKC, NFC, NFD,
#: casefold) away from the one stored beside it: unknown as they are given.
NORMALISED_IDS = (("task-known-1", "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c
                                           for c in "task-known-1")),  # full-width forms
                  ("task-known-1", "task-known-\u2460"),
                  ("task-fix-3", "task-\ufb01x-3"),
                  ("task-caf\u00e9-7", "task-cafe\u0301-7"),
                  ("task-cafe\u0301-8", "task-caf\u00e9-8"),
                  ("task-\u00c5-5", "task-\u212b-5"),
                  ("task-strasse-4", "task-Stra\u00dfe-4"))


class _OvertakenStore(MemoryTaskStore):
    """A store where another executor claims the task between the submission's read and
    its ``compare_and_set``, and takes it as far as ``then`` (running or completed)."""

    def __init__(self, then: Task) -> None:
        super().__init__()
        self.then = then

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        self.save(self.then)
        return super().compare_and_set(task, expected)


class _FinishedMeanwhileStore(MemoryTaskStore):
    """A store where, at the first ``compare_and_set`` (this executor's claim, after its
    read), another executor runs the same task through this store to its end, with the
    submission's own ``execute_task``: the claim then finds the task as that executor saved
    it. (``other`` is only run once; its own claim goes through untouched.)"""

    def __init__(self, other: Callable[[], Any]) -> None:
        super().__init__()
        self.other: Callable[[], Any] | None = other
        self.other_outcome: dict[str, Any] | None = None
        self.saves_after_other: int | None = None

    def compare_and_set(self, task: Task, expected: TaskState) -> bool:
        other, self.other = self.other, None
        if other is not None:
            self.other_outcome = outcome(other, describe=lambda e: _raised(e, ToolFailure))
            self.saves_after_other = len(self.saves)
        return super().compare_and_set(task, expected)


#: How the other executor's run ends: the result its work returns, or None when it fails.
FINISHED_MEANWHILE = {"completed": "rotated by the other executor",
                      "completed quietly": "", "failed": None}


@SCENARIOS.scenario
def lost_to_a_finished_run(lab: ModuleType) -> dict[str, Any]:
    """Two executors of one task (pending, or failed before), the second one run by the
    submission between the first's read and its claim, all the way to its end (completed,
    completed with '', or, for a pending task, failed): what the first one, which lost the
    claim, does."""
    seen: dict[str, Any] = {}
    with FrozenClock(detached=True) as clock:
        for start in (TaskState.PENDING, TaskState.FAILED):
            for name, result in FINISHED_MEANWHILE.items():
                if start is TaskState.FAILED and result is None:
                    continue  # failed again: the state it was read in, so its claim may win
                task_id = f"task-meanwhile-{start.value}-{name.replace(' ', '-')}"
                other_work = _Work(clock, 3.0, result or "",
                                   None if result is not None else ToolFailure("disk is busy"))
                store = _FinishedMeanwhileStore(lambda: lab.execute_task(
                    store, task_id, other_work, now=clock.now))
                store.save(Task(id=task_id, user_input="rotate the logs on web-1",
                                state=start, created_at=clock.now(), updated_at=clock.now(),
                                error="ToolFailure: gateway timeout"
                                if start is TaskState.FAILED else None))
                work = _Work(clock, 3.0, "rotated by this executor")
                lost = outcome(lambda: lab.execute_task(store, task_id, work, now=clock.now),
                               describe=lambda e: _raised(e, lab.TaskInProgress))
                seen[f"{start.value}, the other {name}"] = {
                    "other_result": result,
                    "other": store.other_outcome,
                    "other_states": [_task(t)["state"] for t in store.history(task_id)][
                        1:store.saves_after_other or 1],
                    "lost": lost,
                    "work_runs": work.runs,
                    "saves_after_other": None if store.saves_after_other is None
                    else len(store.saves) - store.saves_after_other,
                }
    return seen


@SCENARIOS.scenario
def claimed_elsewhere(lab: ModuleType) -> dict[str, Any]:
    """A task another executor is running; one it claims (and, once, completes) between
    this executor's read and its claim; a failed task executed again."""
    seen: dict[str, Any] = {}
    with FrozenClock(detached=True) as clock:
        pending = Task(id="task-claimed-1", user_input="rotate the logs on web-1",
                       created_at=clock.now(), updated_at=clock.now())
        running = Task(id=pending.id, user_input=pending.user_input, state=TaskState.RUNNING,
                       created_at=pending.created_at, updated_at=clock.now())
        completed = Task(id=pending.id, user_input=pending.user_input,
                         state=TaskState.COMPLETED, result="rotated by the other executor",
                         created_at=pending.created_at, updated_at=clock.now())
        failed = Task(id=pending.id, user_input=pending.user_input, state=TaskState.FAILED,
                      error="ToolFailure: disk is busy", created_at=pending.created_at,
                      updated_at=clock.now())
        for name, store in (("already_running", MemoryTaskStore()),
                            ("overtaken_running", _OvertakenStore(running)),
                            ("overtaken_completed", _OvertakenStore(completed)),
                            ("overtaken_completed_quietly", _OvertakenStore(
                                replace(completed, result=""))),
                            ("overtaken_failed", _OvertakenStore(failed)),
                            ("running_for_long", MemoryTaskStore())):
            if name == "running_for_long":
                store.save(Task(id=pending.id, user_input=pending.user_input,
                                state=TaskState.RUNNING, created_at=clock.now(),
                                updated_at=clock.now()))
                clock.advance(600.0)
            else:
                store.save(running if name == "already_running" else pending)
            before = len(store.saves)
            work = _Work(clock, 3.0, "rotated by this executor")
            seen[name] = outcome(lambda: lab.execute_task(store, pending.id, work, now=clock.now),
                                 describe=lambda e: _raised(e, lab.TaskInProgress))
            seen[name]["work_runs"] = work.runs
            # the other executor's own save, if any, is not this one's
            seen[name]["saves"] = len(store.saves) - before - isinstance(store, _OvertakenStore)
        store = MemoryTaskStore()
        store.save(Task(id="task-failed-2", user_input="deploy web", state=TaskState.FAILED,
                        error="ToolFailure: gateway timeout", created_at=clock.now(),
                        updated_at=clock.now()))
        clock.advance(90.0)  # the retry comes later: a created_at reset to now() would show
        during: list[Any] = []

        def work(task: Task) -> str:
            during.append(_task(store.get("task-failed-2")))
            return "deployed on the second try"

        seen["failed_again"] = outcome(lambda: lab.execute_task(store, "task-failed-2", work,
                                                                now=clock.now))
        seen["failed_of_every_kind"] = {}
        for error in FAILED_ERRORS:
            task_id = f"task-failed-{error.split(':')[0]}"
            store.save(Task(id=task_id, user_input="deploy web", state=TaskState.FAILED,
                            error=error, created_at=clock.now(), updated_at=clock.now()))
            again = _Work(clock, 1.0, "deployed this time")
            seen["failed_of_every_kind"][error] = {
                **outcome(lambda: lab.execute_task(store, task_id, again, now=clock.now),
                          describe=lambda e: describe_error(e)),
                "work_runs": again.runs}
        seen["failed_fails_again"] = _failing_again(lab, clock)
        seen["with_messages"] = _with_messages(lab, clock)
        seen["failed_again"]["stored_during_work"] = during
        seen["failed_again"]["final"] = _task(store.get("task-failed-2"))
        seen["failed_again"]["states"] = [
            _task(t)["state"] for t in store.history("task-failed-2")][1:]
        seen["failed_again"]["created_at"] = [
            _task(t)["created_at"] for t in store.history("task-failed-2")]
    return seen


#: The errors of failed tasks, of every kind: each one runs again when executed.
FAILED_ERRORS = ("ValueError: replicas must be positive", "KeyError: 'replicas'",
                 "PermissionError: [Errno 13] Permission denied: '/etc/deploy.yml'",
                 "TypeError: unsupported operand", "NotImplementedError: ")


def retry_failures() -> list[Exception]:
    """The failures of the runs of one task executed again and again, each run failing:
    another error, then the same one twice, then one with no message."""
    return [TimeoutError("deploy timed out"), ToolFailure("apply_deploy failed"),
            ToolFailure("apply_deploy failed"), KeyError("replicas"), TimeoutError()]


def _failing_again(lab: ModuleType, clock: FrozenClock) -> list[dict[str, Any]]:
    """A failed task executed again, failing again, run after run: what each run left."""
    store = MemoryTaskStore()
    store.save(Task(id="task-failing-5", user_input="deploy db", state=TaskState.FAILED,
                    error="ToolFailure: gateway timeout", created_at=clock.now(),
                    updated_at=clock.now()))
    runs = []
    for error in retry_failures():
        clock.advance(30.0)
        work = _Work(clock, 2.0, "", error)
        before = len(store.saves)
        executed = outcome(lambda: lab.execute_task(store, "task-failing-5", work,
                                                    now=clock.now),
                           describe=lambda e, error=error: {**describe_error(e),
                                                            "itself": e is error})
        runs.append({"executed": executed, "work_runs": work.runs,
                     "states": [_task(t)["state"] for t in store.saves[before:]],
                     "final": _task(store.get("task-failing-5"))})
    return runs


#: A conversation so far, as the agent loop saves it with the task (lab 04 resumes from it).
CONVERSATION = (
    {"role": "system", "content": "You are a careful DevOps agent."},
    {"role": "user", "content": "Deploy web 2.4.1"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_m1", "type": "function",
         "function": {"name": "check_status", "arguments": '{"service":"web"}'}}]},
    {"role": "tool", "tool_call_id": "call_m1", "content": "web: 2.4.0 healthy"},
)


#: Conversations a task stored completed may carry, whatever their last message: the
#: completed state decides, not the conversation.
COMPLETED_CONVERSATIONS: dict[str, tuple[dict[str, Any], ...]] = {
    "ending on a tool message": CONVERSATION,
    "ending on the user's message": CONVERSATION[:2],
    "ending on a tool message, two calls in": CONVERSATION + (
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_m2", "type": "function",
             "function": {"name": "apply_deploy",
                          "arguments": '{"service":"web","version":"2.4.1"}'}}]},
        {"role": "tool", "tool_call_id": "call_m2", "content": "web@2.4.1 applied"}),
    "with no messages": (),
    "ending on the assistant's answer": CONVERSATION + (
        {"role": "assistant", "content": "web is on 2.4.1"},),
}


def _with_messages(lab: ModuleType, clock: FrozenClock) -> dict[str, Any]:
    """Tasks that carry their conversation (pending, failed), executed to success and to
    failure: what every version saved from the claim on holds, and what the work got."""
    seen = {}
    for name, state, error in (("pending_completes", TaskState.PENDING, None),
                               ("pending_fails", TaskState.PENDING, ToolFailure("disk is busy")),
                               ("failed_completes", TaskState.FAILED, None),
                               ("failed_fails", TaskState.FAILED, TimeoutError("no answer"))):
        store = MemoryTaskStore()
        task = Task(id=f"task-talk-{name}", user_input="Deploy web 2.4.1", state=state,
                    error="ToolFailure: gateway timeout" if state is TaskState.FAILED else None,
                    created_at=clock.now(), updated_at=clock.now(), messages=CONVERSATION)
        store.save(task)
        clock.advance(5.0)
        got: list[Any] = []

        def work(given: Task, error: Exception | None = error) -> str:
            got.append(isinstance(given, Task) and given.messages == CONVERSATION)
            if error is not None:
                raise error
            return "deployed web@2.4.1"

        outcome(lambda: lab.execute_task(store, task.id, work, now=clock.now))
        versions = store.history(task.id)[1:]
        seen[name] = {
            "states": [_task(t)["state"] for t in versions],
            "kept": [t.messages == CONVERSATION for t in versions],
            "held": [len(t.messages) if isinstance(t.messages, tuple) else plain(t.messages)
                     for t in versions],
            "others_kept": [t.id == task.id and t.user_input == task.user_input
                            and t.created_at == task.created_at for t in versions],
            "work_got_them": got,
        }
    return seen


def _agent_run(lab: ModuleType, task_id: str, script: list[Any]) -> dict[str, Any]:
    """The kit's agent loop with the submission's IdempotentTools as its tool executor."""
    tools = DevOpsTools()
    with FrozenClock(detached=True) as clock, FakeLLM(script, clock=clock) as llm:
        messages = start_messages("Deploy web 2.4.1 and make sure the disk has room.")

        def run() -> str:
            execute = lab.IdempotentTools(tools, MemoryKeyStore(), task_id)
            return run_agent(llm.client(max_retries=0), messages, execute)

        seen = outcome(run)
        last = llm.requests[-1].messages if llm.requests else []
        seen["tool_messages"] = [
            {"tool_call_id": plain(m.get("tool_call_id")), "content": plain(m.get("content"))}
            for m in last
            if isinstance(m, dict) and m.get("role") == "tool"
        ]
        seen["requests"] = len(llm.requests)
        seen["calls"] = dict(sorted(tools.calls.items()))
        seen["deployed"] = list(tools.deployed)
        return seen


@SCENARIOS.scenario
def tool_dedup(lab: ModuleType) -> dict[str, Any]:
    """The model asks again for a deploy it already got (new id, keys reordered and
    re-spaced), and for one clean twice in one reply; reads come in between."""
    deploy = {"service": "web", "version": "2.4.1"}
    sequential = [
        reply(tool_calls=[tool_call("check_status", {"service": "web"}, id="call_k1")]),
        reply(tool_calls=[tool_call("apply_deploy", deploy, id="call_k2")]),
        reply(tool_calls=[tool_call(
            "apply_deploy", '{ "version" : "2.4.1",  "service": "web" }', id="call_k3")]),
        reply(tool_calls=[tool_call("check_status", {"service": "web"}, id="call_k4")]),
        reply("web is on 2.4.1"),
    ]
    parallel = [
        reply(tool_calls=[tool_call("check_disk", id="call_d1")]),
        reply(tool_calls=[tool_call("clean_logs", "{}", id="call_d2"),
                          tool_call("clean_logs", " { } ", id="call_d3")]),
        reply(tool_calls=[tool_call("check_disk", id="call_d4")]),
        reply("disk at 75%"),
    ]
    def same_key(task_id: str, tool: str, first: str, second: str) -> Any:
        keys = [outcome(lambda a=a: plain(lab.idempotency_key(task_id, tool, a)))
                for a in (first, second)]
        return keys[0] == keys[1] and "returned" in keys[0]

    every_tool = [
        reply(tool_calls=[tool_call("build_config", {"service": "api", "version": "1.2"},
                                    id="call_b1")]),
        reply(tool_calls=[tool_call("build_config", '{"version": "1.2", "service": "api"}',
                                    id="call_b2")]),
        reply(tool_calls=[tool_call("apply_deploy", {"service": "api", "version": "1.2"},
                                    id="call_b3"),
                          tool_call("clean_logs", "", id="call_b4")]),
        reply(tool_calls=[tool_call("apply_deploy", '{"service":"api","version":"1.2"}',
                                    id="call_b5"),
                          tool_call("clean_logs", "", id="call_b6")]),
        reply("api is on 1.2"),
    ]
    def key_of(tool: str, arguments: str) -> Any:
        return outcome(lambda: plain(lab.idempotency_key("task-api", tool, arguments)))

    distinct = [key_of("build_config", '{"service": "api", "version": "1.2"}'),
                key_of("apply_deploy", '{"service": "api", "version": "1.2"}'),
                key_of("clean_logs", "")]
    one_call = [reply(tool_calls=[tool_call("apply_deploy", deploy, id="call_w1")]),
                reply("web is on 2.4.1")]
    unicode = []
    for number, arguments in enumerate(unicode_deploys()):
        forms = (json.dumps(arguments, ensure_ascii=False),
                 json.dumps(dict(reversed(list(arguments.items()))), ensure_ascii=False,
                            separators=(" , ", " : ")))
        tools = DevOpsTools()

        def deploy_twice(tools: DevOpsTools = tools, forms: tuple[str, str] = forms,
                         number: int = number) -> list[Any]:
            execute = lab.IdempotentTools(tools, MemoryKeyStore(), f"task-u-{number}")
            return [outcome(lambda form=form: execute("apply_deploy", form)) for form in forms]

        unicode.append({"arguments": arguments,
                        "same_key": same_key(f"task-u-{number}", "apply_deploy", *forms),
                        "calls": outcome(deploy_twice), "deployed": list(tools.deployed)})
    return {
        "unicode": unicode,
        "after_a_failure": _repeats_after_a_failure(lab),
        "sequential": _agent_run(lab, "task-deploy-web", sequential),
        "parallel": _agent_run(lab, "task-disk-web", parallel),
        "every_tool": _agent_run(lab, "task-api", every_tool),
        "every_tool_keys_distinct": all("returned" in k for k in distinct)
        and len({str(k["returned"]) for k in distinct}) == 3,
        "two_worlds": [_agent_run(lab, "task-world", one_call) for _ in range(2)],
        "same_key": {
            "sequential": same_key("task-deploy-web", "apply_deploy", json.dumps(deploy),
                                   '{ "version" : "2.4.1",  "service": "web" }'),
            "parallel": same_key("task-disk-web", "clean_logs", "{}", " { } "),
            "every_tool": all(same_key("task-api", tool, first, second) for tool, first, second in (
                ("build_config", '{"service": "api", "version": "1.2"}',
                 '{"version": "1.2", "service": "api"}'),
                ("apply_deploy", '{"service": "api", "version": "1.2"}',
                 '{"service":"api","version":"1.2"}'),
                ("clean_logs", "", ""))),
        },
    }


class _ProbeTools(DevOpsTools):
    """The kit's tools with reads of other names (``list_pods``, ``check_memory``,
    ``get_logs``): none is in ``SIDE_EFFECTS``. Every read's reply tells the world as it is
    at that moment, and the world moves on between two calls (a pod restarts, memory is
    used, a log line is written); ``replies`` keeps, per tool, what each run replied."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: dict[str, list[str]] = {}
        self._ticks = 0

    def _tools(self) -> dict[str, Callable[..., str]]:
        return {**super()._tools(), "list_pods": self.list_pods,
                "check_memory": self.check_memory, "get_logs": self.get_logs}

    def run(self, name: str, arguments: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
        reply_ = super().run(name, arguments, **kwargs)
        self.replies.setdefault(name, []).append(reply_)
        return reply_

    def _tick(self) -> int:
        self._ticks += 1
        return self._ticks

    def list_pods(self, namespace: str = "default") -> str:
        self._enter("list_pods")
        return f"{namespace}: web-1 Running (restarts: {self._tick()}), web-2 Running"

    def check_memory(self) -> str:
        self._enter("check_memory")
        return f"Memory: {60 + self._tick()}% used"

    def get_logs(self, service: str, lines: str = "1") -> str:
        self._enter("get_logs")
        return f"{service}: request #{self._tick()} served ({lines} line(s))"


#: Reads through one executor, in order: ``(tool, arguments)``, or ``None`` where the world
#: changes behind the executor's back (an operator frees the disk, another agent deploys).
#: Each read is asked twice, mostly in a row with no side effect in between.
READS_IN_A_ROW: dict[str, tuple[tuple[str, str] | None, ...]] = {
    "the kit's reads, twice in a row": (
        ("check_status", '{"service":"web"}'), ("check_status", '{"service":"web"}'),
        ("check_disk", ""), ("check_disk", ""),
        ("verify", '{"service":"web"}'), ("verify", '{"service":"web"}')),
    "the kit's reads, the world changed in between": (
        ("check_disk", "{}"), None, ("check_disk", "{}"),
        ("check_status", '{"service":"web"}'), None, ("check_status", '{"service":"web"}')),
    "reads of other names": (
        ("list_pods", '{"namespace":"web"}'), ("list_pods", '{"namespace":"web"}'),
        ("check_memory", ""), ("check_memory", "{}"), ("check_memory", ""),
        ("get_logs", '{"service":"web","lines":"5"}'),
        ("get_logs", '{"lines": "5", "service": "web"}')),
    "reads of other names around a side effect": (
        ("list_pods", "{}"), ("clean_logs", "{}"), ("list_pods", "{}"), ("list_pods", "{}")),
}


def _world_changes(tools: DevOpsTools) -> None:
    """Someone else changes the world: an operator frees the disk, another agent deploys."""
    tools.disk_percent -= 30
    tools.run("apply_deploy", {"service": "web",
                               "version": f"9.9.{tools.calls['apply_deploy'] + 1}"})


@SCENARIOS.scenario
def reads_every_time(lab: ModuleType) -> dict[str, Any]:
    """Reads asked through IdempotentTools, each twice, mostly in a row (the kit's reads and
    reads of other names, none in SIDE_EFFECTS): what each call returned, and how often and
    with what reply each tool really ran."""
    seen = {}
    for number, (name, sequence) in enumerate(READS_IN_A_ROW.items()):
        tools = _ProbeTools()
        execute = required(lambda tools=tools, number=number: lab.IdempotentTools(
            tools, MemoryKeyStore(), f"task-reads-{number}"))
        calls = []
        for step in sequence:
            if step is None:
                _world_changes(tools)
                calls.append(None)
                continue
            tool, arguments = step
            calls.append(outcome(lambda tool=tool, arguments=arguments: execute(tool, arguments)))
        seen[name] = {"calls": calls, "replies": tools.replies,
                      "ran": dict(sorted(tools.calls.items()))}
    return seen


#: Tool calls of one task, in order: ``(tool, arguments, fails)``; the calls that fail do so
#: once (the tool raises ToolFailure). The contract: a failing call leaves the other calls'
#: keys as they are, so a repeat of a call that succeeded earlier is answered from the store.
CALLS_AROUND_A_FAILURE: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "config, failed deploy, config again": (
        ("build_config", '{"service":"api","version":"1.2"}', False),
        ("apply_deploy", '{"service":"api","version":"1.2"}', True),
        ("build_config", '{"service":"api","version":"1.2"}', False)),
    "clean, config, failed deploy, clean and config again": (
        ("clean_logs", "{}", False),
        ("build_config", '{"service":"web","version":"2.4.1"}', False),
        ("apply_deploy", '{"service":"web","version":"2.4.1"}', True),
        ("clean_logs", "{}", False),
        ("build_config", '{"service":"web","version":"2.4.1"}', False)),
    "deploy, failed config, deploy again, twice": (
        ("apply_deploy", '{"service":"db","version":"9.1"}', False),
        ("build_config", '{"service":"db","version":"9.2"}', True),
        ("apply_deploy", '{"service":"db","version":"9.1"}', False),
        ("build_config", '{"service":"db","version":"9.3"}', True),
        ("apply_deploy", '{"service":"db","version":"9.1"}', False)),
}


def _repeats_after_a_failure(lab: ModuleType) -> dict[str, Any]:
    """Each sequence of :data:`CALLS_AROUND_A_FAILURE` through one executor: what each call
    got, how often each tool ran, and whether the idempotency key of each repeated call is
    the same every time it is computed."""
    seen = {}
    for name, sequence in CALLS_AROUND_A_FAILURE.items():
        tools = DevOpsTools()
        task_id = f"task-around-{len(seen)}"

        def run(tools: DevOpsTools = tools, sequence: Any = sequence,
                task_id: str = task_id) -> list[Any]:
            execute = lab.IdempotentTools(tools, MemoryKeyStore(), task_id)
            got = []
            for tool, arguments, fails in sequence:
                if fails:
                    tools.fail_next(tool)
                got.append(outcome(lambda tool=tool, arguments=arguments: execute(
                    tool, arguments), describe=lambda e: _raised(e, ToolFailure)))
            return got

        stable = all(
            "returned" in first and first == second
            for first, second in (
                [outcome(lambda tool=tool, arguments=arguments: plain(
                    lab.idempotency_key(task_id, tool, arguments))) for _ in range(2)]
                for tool, arguments, _fails in sequence))
        seen[name] = {"calls": outcome(run), "ran": dict(sorted(tools.calls.items())),
                      "keys_stable": stable}
    return seen


@contextlib.contextmanager
def _hash_as_in_another_process(lab: ModuleType) -> Iterator[None]:
    """Inside, the submission's ``hash()`` gives other values for the same strings, as it
    does in every new interpreter (``PYTHONHASHSEED``): a key built on it changes."""
    missing = object()
    own = lab.__dict__.get("hash", missing)
    lab.hash = lambda value: builtins.hash(("another process", value))
    try:
        with mock.patch("os.getpid", lambda: 48213), mock.patch("os.getppid", lambda: 48200), \
                mock.patch("socket.gethostname", lambda: "worker-7"), \
                mock.patch("platform.node", lambda: "worker-7"), \
                mock.patch("threading.get_ident", lambda: 140213):
            yield
    finally:
        if own is missing:
            del lab.hash
        else:
            lab.hash = own


@SCENARIOS.scenario
def key_determinism(lab: ModuleType) -> dict[str, Any]:
    """Keys of the same and of different calls, at another time, random state and string
    hash; and which calls the executor runs again."""
    args = '{"service":"web","version":"2.4.1"}'

    def key(task_id: str, tool: str, arguments: Any) -> Any:
        return plain(lab.idempotency_key(task_id, tool, arguments))

    def keys() -> dict[str, Any]:
        base = key("task-7", "apply_deploy", args)
        variants = {
            "reordered": key("task-7", "apply_deploy", '{"version": "2.4.1", "service": "web"}'),
            "respaced": key("task-7", "apply_deploy", '{ "service" : "web" , "version" : "2.4.1" }'),
            "mapping": key("task-7", "apply_deploy", {"version": "2.4.1", "service": "web"}),
            "other_args": key("task-7", "apply_deploy", '{"service":"web","version":"2.4.2"}'),
            "other_task": key("task-8", "apply_deploy", args),
            "other_tool": key("task-7", "build_config", args),
            "joined": key("task-7apply", "_deploy", args),
        }
        return {"base": base, **variants}

    def observe() -> dict[str, Any]:
        # the process clock itself moves here: a key built from time.time() changes
        with FrozenClock() as clock:
            random.seed(11)
            first = keys()
            clock.advance(3600.0)
            random.seed(12)
            with _hash_as_in_another_process(lab):
                later = keys()
        is_text = all(type(v) is str and v for v in [*first.values(), *later.values()])
        same = {name: first[name] == first["base"] for name in first if name != "base"}
        # the same characters split elsewhere between task and tool, around a separator
        split = {sep: (key(f"task-7{sep}apply", "deploy", args) ==
                       key("task-7", f"apply{sep}deploy", args)) for sep in (":", "|", "/", " ")}
        canonical = [plain(lab.canonical_arguments(text)) for text in
                     ('{"b": 1, "a": [1, 2]}', '{"a":[1,2],"b":1}', ' {"b":1 , "a":[1, 2]} ')]
        return {
            "is_text": is_text,
            "same_as_base": same,
            "split_elsewhere_same": [sep for sep, equal in split.items() if equal],
            "stable": first == later,
            "canonical_agree": len(set(map(str, canonical))) == 1,
            "canonical_is_text": all(type(c) is str for c in canonical),
        }

    seen = outcome(observe)
    tools, store = DevOpsTools(), MemoryKeyStore()

    def executor_runs() -> list[str]:
        seven = lab.IdempotentTools(tools, store, "task-7")
        eight = lab.IdempotentTools(tools, store, "task-8")
        seven("apply_deploy", args)
        seven("apply_deploy", '{"service":"web","version":"2.4.2"}')
        eight("apply_deploy", args)
        seven("apply_deploy", '{"version":"2.4.1","service":"web"}')
        return list(tools.deployed)

    seen["executor"] = outcome(executor_runs)
    expected_key = outcome(lambda: lab.idempotency_key("task-7", "apply_deploy", args))
    seen["executor_uses_the_key"] = plain(expected_key.get("returned")) in store.keys()
    repeat = outcome(lambda: lab.idempotency_key("task-7", "apply_deploy",
                                                 '{"version":"2.4.1","service":"web"}'))
    seen["repeat_same_key"] = "returned" in repeat and repeat == expected_key
    again = outcome(lambda: lab.idempotency_key("task-7", "apply_deploy", args))
    seen["key_repeatable"] = "returned" in again and again == expected_key
    return seen


#: The seed the generated arguments come from.
ARGUMENTS_SEED = 2402


def _value(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value: nested objects and arrays, strings with spaces and punctuation,
    numbers, booleans, null."""
    kind = rng.choice(("object", "object", "array", "hosts", "text", "number", "flag")
                      if depth < 3 else ("hosts", "text", "number", "flag"))
    if kind == "object":
        return {rng.choice(("service", "version", "path", "replicas", "tags", "env", "note",
                            "dry_run", "ä-key", "limits"))
                + ("" if rng.random() < 0.7 else f"_{n}"): _value(rng, depth + 1)
                for n in range(rng.randint(1, 4))}
    if kind == "array":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "hosts":
        return rng.sample(["web-1", "web-2", "db-1", "cache-1"], rng.randint(2, 3))
    if kind == "text":
        return rng.choice(("web", "web 2", "a, b: c", "/var/log", "canary {blue}", "grüße",
                           " padded ", ""))
    if kind == "number":
        return rng.choice((0, 3, -1, 250, 2.5, 10**12))
    return rng.choice((True, False, None))


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every object's keys in another order, at every depth."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


def _written(value: Any, rng: random.Random) -> str:
    """``value`` as JSON text in some key order and spacing (escaped or not)."""
    indent = rng.choice((None, None, 1, 4))
    separators = rng.choice(((",", ":"), (", ", ": "), (" , ", " : ")))
    text = json.dumps(_shuffled(value, rng), indent=indent, separators=separators,
                      ensure_ascii=rng.random() < 0.5)
    return rng.choice(("", " ", "\n")) + text + rng.choice(("", "  ", "\n"))


def _neighbour(value: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Another object, one leaf away from ``value``: a changed, added or removed entry."""
    other = json.loads(json.dumps(value))
    target = other
    while True:
        key = rng.choice(list(target))
        if isinstance(target[key], dict) and target[key] and rng.random() < 0.6:
            target = target[key]
            continue
        break
    change = rng.choice(("change", "add", "drop") if len(target) > 1 else ("change", "add"))
    if isinstance(target[key], list) and len(set(map(json.dumps, target[key]))) > 1:
        target[key] = list(reversed(target[key]))  # a list's order is part of its value
    elif change == "change":
        target[key] = {"was": target[key]} if target[key] in ("", None) else (
            target[key] + " " if isinstance(target[key], str) else [target[key]])
    elif change == "add":
        target[key + "_extra"] = "yes"
    else:
        del target[key]
    return other


def argument_forms() -> list[dict[str, Any]]:
    """Generated arguments: for each, a value (a JSON object), three ways of writing it (two
    texts in other key orders and spacing, and a mapping), and a neighbour that differs in
    one place. The contract: the three forms are one set of arguments, the neighbour is
    another."""
    rng = random.Random(ARGUMENTS_SEED)
    cases = []
    while len(cases) < 30:
        value = _value(rng)
        if not isinstance(value, dict):
            continue
        cases.append({
            "value": value,
            "forms": [_written(value, rng), _written(value, rng), _shuffled(value, rng)],
            "neighbour": _neighbour(value, rng),
        })
    return cases


#: Calls that differ only in case: ``(task_id, tool, arguments)`` pairs.
CASE_PAIRS = ((("task-a", "apply_deploy", '{"tag":"RC1"}'), ("task-a", "apply_deploy", '{"tag":"rc1"}')),
              (("task-a", "apply_deploy", "{}"), ("Task-A", "apply_deploy", "{}")),
              (("task-a", "Build_Config", "{}"), ("task-a", "build_config", "{}")))

#: Arguments that differ only in a value's JSON type.
TYPE_PAIRS = (('{"replicas":3}', '{"replicas":"3"}'), ('{"dry_run":true}', '{"dry_run":"true"}'),
              ('{"note":null}', '{"note":"null"}'), ('{"hosts":[]}', '{"hosts":{}}'))

#: Task and tool names whose plain concatenation collides.
RUN_TOGETHER = (("task-7", "apply_deploy"), ("task-7apply", "_deploy"), ("task-", "7apply_deploy"),
                ("task-7a", "pply_deploy"))


@SCENARIOS.scenario
def generated_keys(lab: ModuleType) -> dict[str, Any]:
    """canonical_arguments and idempotency_key of every generated argument form and its
    neighbour; the empty arguments written three ways; calls whose parts run together."""
    def canonical(arguments: Any) -> Any:
        return outcome(lambda: plain(lab.canonical_arguments(arguments)))

    def key(task_id: str, tool: str, arguments: Any) -> Any:
        return outcome(lambda: plain(lab.idempotency_key(task_id, tool, arguments)))

    seen: dict[str, Any] = {"cases": []}
    for case in argument_forms():
        seen["cases"].append({
            "canonical": [canonical(form) for form in case["forms"]],
            "keys": [key("task-gen", "apply_deploy", form) for form in case["forms"]],
            "neighbour_canonical": canonical(case["neighbour"]),
            "neighbour_key": key("task-gen", "apply_deploy", case["neighbour"]),
        })
    empties = ("", "{}", {})
    seen["empty"] = {"canonical": [canonical(e) for e in empties],
                     "keys": [key("task-gen", "clean_logs", e) for e in empties]}
    seen["run_together"] = [key(task_id, tool, "{}") for task_id, tool in RUN_TOGETHER]
    seen["case_pairs"] = [[key(*call) for call in pair] for pair in CASE_PAIRS]
    seen["type_pairs"] = [[key("task-gen", "apply_deploy", args) for args in pair]
                          for pair in TYPE_PAIRS]
    def same(of: Callable[[str], Any], pair: tuple[str, str]) -> Any:
        """Whether ``of`` gives both arguments one value, compared whole (not as reported)."""
        return outcome(lambda: of(pair[0]) == of(pair[1]))

    seen["character_pairs"] = [
        {"same_key": same(lambda a: lab.idempotency_key("task-gen", "apply_deploy", a), pair),
         "same_canonical": same(lab.canonical_arguments, pair)}
        for pair in CHARACTER_PAIRS]
    seen["swapped_parts"] = [[key(task_id, tool, "{}") for task_id, tool in pair]
                             for pair in SWAPPED_PARTS]
    seen["json_values"] = [{"canonical": [canonical(form) for form in case["forms"]],
                            "keys": [key("task-gen", "apply_deploy", form)
                                     for form in case["forms"]]}
                           for case in json_value_forms()]
    seen["spelled"] = [{"same_key": same(lambda a: lab.idempotency_key("task-gen", "apply_deploy",
                                                                        a), pair),
                        "same_canonical": same(lab.canonical_arguments, pair)}
                       for pair in spelled_pairs()]
    seen["id_named"] = [{"same_key": same(lambda a: lab.idempotency_key("task-gen", "restart",
                                                                         a), pair),
                         "same_canonical": same(lab.canonical_arguments, pair)}
                        for pair in id_named_pairs()]
    changing = {"service": "web", "version": "2.4.1"}
    before = canonical(changing)
    changing["version"] = "2.4.2"  # the same dict, changed: its text changes with it
    seen["unpaired_surrogates"] = [key("task-gen", "apply_deploy", '{"note":"\\ud83d"}'),
                                   key("task-gen", "apply_deploy", '{"note":"\\ud83e"}')]
    seen["changed_mapping"] = [before, canonical(changing),
                               canonical({"service": "web", "version": "2.4.2"})]
    mapped = {"service": "web", "limits": {"cpu": 2, "mem": "4G"}, "hosts": ["b", "a"]}
    seen["mapping_kinds"] = {
        "dict": {"canonical": canonical(mapped), "key": key("task-gen", "apply_deploy", mapped)},
        **{name: {"canonical": canonical(make(mapped)),
                  "key": key("task-gen", "apply_deploy", make(mapped))}
           for name, make in MAPPING_KINDS.items()},
    }
    return seen


#: Arguments whose strings differ in characters only Unicode normalisation would merge
#: (precomposed and combining é, the ﬁ ligature and fi, the ångström sign and Å), and
#: integers a float cannot tell apart (past 2**53).
CHARACTER_PAIRS = (('{"name":"caf\u00e9"}', '{"name":"cafe\u0301"}'),
                   ('{"path":"/\ufb01les"}', '{"path":"/files"}'),
                   ('{"unit":"\u212b"}', '{"unit":"\u00c5"}'),
                   ('{"build":9007199254740993}', '{"build":9007199254740992}'),
                   ('{"config":"' + "x" * 6000 + 'a"}', '{"config":"' + "x" * 6000 + 'b"}'),
                   ('{"ratio":1e-10}', '{"ratio":3e-10}'))

def json_value_forms() -> list[dict[str, Any]]:
    """Arguments that are JSON values other than an object (strings, arrays, numbers,
    booleans, null), each written two ways (spacing, escapes). The contract: any JSON
    value is canonicalised as itself, so the two forms are one set of arguments."""
    rng = random.Random(ARGUMENTS_SEED + 1)
    cases: list[dict[str, Any]] = []
    while len(cases) < 16:
        value = _value(rng, 1)
        if isinstance(value, dict):
            continue
        cases.append({"value": value, "forms": [_written(value, rng), _written(value, rng)]})
    return cases


def spelled_pairs() -> list[tuple[str, str]]:
    """Pairs of JSON texts where the first is a string that spells the second (as
    arguments JSON-encoded twice are), or another kind of value that is not the second:
    each is other arguments (a string is not decoded again)."""
    rng = random.Random(ARGUMENTS_SEED + 2)
    pairs = [('"{\\"a\\":1}"', '{"a":1}'), ('""', "{}"), ('"{}"', "{}"), ('"[1,2]"', "[1,2]"),
             ('"3"', "3"), ("[]", "{}"), ("null", "{}"), ('[{"a":1}]', '{"a":1}')]
    for case in rng.sample(argument_forms(), 6):
        text = _written(case["value"], rng)
        pairs.append((json.dumps(text), text))
    return pairs


#: Argument names a tool may take that look like a call's id: they are arguments as any other.
ID_NAMES = ("id", "tool_call_id", "call_id")


def id_named_pairs() -> list[tuple[str, str]]:
    """Pairs of other arguments whose difference is an argument named like an id (a tool
    that acts on a resource by id: restart instance i-1, refund charge ch_2)."""
    rng = random.Random(ARGUMENTS_SEED + 3)
    pairs = []
    for name in ID_NAMES:
        first, second = rng.sample(["db-1", "db-2", "i-0a1b", "ch_2", 7, 8], 2)
        pairs.append((json.dumps({name: first}), json.dumps({name: second})))
        pairs.append((json.dumps({"service": "web", name: first}), '{"service":"web"}'))
    return pairs


#: Calls whose parts are the same texts in other places: ``(task_id, tool)`` pairs.
SWAPPED_PARTS = ((("task-7", "apply_deploy"), ("apply_deploy", "task-7")),
                 (("clean_logs", "clean_logs"), ("apply_deploy", "apply_deploy")))


class _ReadOnlyArguments(Mapping):  # type: ignore[type-arg]
    """A mapping that is not a dict, as a framework may hand the arguments over."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = dict(reversed(list(items.items())))

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


#: Mappings that are not dicts: ``arguments`` may be any mapping.
MAPPING_KINDS: dict[str, Callable[[dict[str, Any]], Mapping[str, Any]]] = {
    "MappingProxyType": lambda items: MappingProxyType(items),
    "ChainMap": lambda items: ChainMap(items),
    "a Mapping of its own": _ReadOnlyArguments,
}


#: Characters of every script and plane params and arguments may hold, ASCII included.
UNICODE_LETTERS = ("é", "ü", "ß", "ñ", "Ω", "ж", "日本", "웹", "🚀", "\u00a0", "a", "Z", "7", " ")


def _unicode_text(rng: random.Random) -> str:
    """A text of a few characters, at least one of them not ASCII."""
    while True:
        text = "".join(rng.choice(UNICODE_LETTERS) for _ in range(rng.randint(2, 6)))
        if not text.isascii():
            return text


def unicode_params() -> list[tuple[str, str]]:
    """Pairs of params texts that hold non-ASCII characters (the canonical text of
    arguments such as {"service": "café"}), each pair two other params: the second is the
    first with one value changed, or (for the last two) a plain ASCII text."""
    rng = random.Random(ARGUMENTS_SEED + 5)
    pairs = []
    for number in range(6):
        first = {"service": _unicode_text(rng), "note": _unicode_text(rng)}
        second = dict(first, note=first["note"] + _unicode_text(rng))
        text = "refund:" + json.dumps(first, ensure_ascii=False, sort_keys=True,
                                      separators=(",", ":"))
        other = ("refund:" + json.dumps(second, ensure_ascii=False, sort_keys=True,
                                        separators=(",", ":"))
                 if number < 4 else 'refund:{"note":"plain","service":"web"}')
        pairs.append((text, other))
    return pairs


def unicode_deploys() -> list[dict[str, str]]:
    """Deploy arguments whose service and version hold non-ASCII characters."""
    rng = random.Random(ARGUMENTS_SEED + 6)
    return [{"service": _unicode_text(rng), "version": f"2.{n}-{_unicode_text(rng)}"}
            for n in range(3)]


@SCENARIOS.scenario
def key_in_progress(lab: ModuleType) -> dict[str, Any]:
    """A key whose operation is still running (its record not done): run again with the same
    parameters, then with other ones."""
    keys, runs = MemoryKeyStore(), []
    keys.put(KeyRecord("idem-running", "restart:web"))

    def restart() -> str:
        runs.append(1)
        return "restarted"

    same = outcome(lambda: lab.run_once(keys, "idem-running", "restart:web", restart),
                   describe=lambda e: _raised(e, lab.KeyInProgress))
    same_runs = len(runs)
    after_same = keys.get("idem-running")
    other = outcome(lambda: lab.run_once(keys, "idem-running", "restart:db", restart),
                    describe=lambda e: _raised(e, lab.IdempotencyConflict))
    record = keys.get("idem-running")
    other_runs = len(runs) - same_runs
    unicode_runs: list[int] = []
    unicode_same = []
    for number, (params, _other) in enumerate(unicode_params()):
        keys.put(KeyRecord(f"idem-running-u{number}", params))
        unicode_same.append(outcome(
            lambda number=number, params=params: lab.run_once(
                keys, f"idem-running-u{number}", params,
                lambda: unicode_runs.append(1) or "restarted"),
            describe=lambda e: _raised(e, lab.KeyInProgress)))
    return {"unicode_same": unicode_same, "unicode_runs": len(unicode_runs),
            "same": same, "other": other, "runs": same_runs,
            "other_runs": other_runs,
            "claim_kept": isinstance(after_same, KeyRecord) and not after_same.done,
            "record": None if record is None else {"params": plain(record.params),
                                                   "done": plain(record.done)}}


@SCENARIOS.scenario
def executor_meets_a_running_key(lab: ModuleType) -> dict[str, Any]:
    """The executor asked for a deploy whose key another executor of the same task holds,
    still running: whether the tool runs anyway."""
    arguments = '{"service":"checkout","version":"1.8.2"}'
    learn = MemoryKeyStore()
    outcome(lambda: lab.IdempotentTools(DevOpsTools(), learn, "task-co")("apply_deploy",
                                                                          arguments))
    records = [learn.get(k) for k in learn.keys()]
    key = outcome(lambda: plain(lab.idempotency_key("task-co", "apply_deploy", arguments)))
    if len(records) != 1 or not isinstance(records[0], KeyRecord) \
            or key.get("returned") != records[0].key:
        return {"learned": False}
    fresh = DevOpsTools()
    outcome(lambda: lab.IdempotentTools(fresh, MemoryKeyStore(), "task-co")("apply_deploy",
                                                                          arguments))
    if fresh.deployed != ["checkout@1.8.2"]:
        return {"learned": False}  # it remembers outside its key store: the dedup checks
    keys, tools = MemoryKeyStore(), DevOpsTools()
    keys.put(KeyRecord(records[0].key, records[0].params))  # claimed, not done
    seen = outcome(lambda: lab.IdempotentTools(tools, keys, "task-co")("apply_deploy",
                                                                       arguments),
                   describe=lambda e: _raised(e, lab.KeyInProgress))
    seen["learned"] = True
    seen["deployed"] = list(tools.deployed)
    return seen


@SCENARIOS.scenario
def params_mismatch(lab: ModuleType) -> dict[str, Any]:
    """One key, first with 10, then with 99, then with 10 again."""
    keys, runs = MemoryKeyStore(), []

    def refund(amount: int) -> Callable[[], str]:
        def action() -> str:
            runs.append(amount)
            return f"refunded {amount} EUR"

        return action

    calls = [
        outcome(lambda: lab.run_once(keys, "idem-42", params, refund(amount)),
                describe=lambda e: _raised(e, lab.IdempotencyConflict))
        for params, amount in (("refund:10", 10), ("refund:99", 99), ("refund:10", 10))
    ]
    second = calls[1].get("raised")
    if second is not None:
        second["names_the_key"] = "idem-42" in second["message"]
        # the given class words it "first used with <stored>, not <given>"
        second["stored_then_given"] = (
            "first used with refund:10, not refund:99" in second["message"])
    record = keys.get("idem-42")
    first_runs = list(runs)
    replay_runs: list[int] = []

    def scale() -> str:
        replay_runs.append(1)
        return "scaled to 5"

    replay = [outcome(lambda: lab.run_once(keys, "idem-50", "scale:5", scale),
                      describe=lambda e: _raised(e, lab.KeyInProgress)) for _ in range(2)]
    empty_first = [
        outcome(lambda: lab.run_once(keys, "idem-43", params, refund(amount)),
                describe=lambda e: _raised(e, lab.IdempotencyConflict))
        for params, amount in (("", 1), ('{"force":true}', 2))
    ]
    empty_second = [
        outcome(lambda: lab.run_once(keys, "idem-44", params, refund(amount)),
                describe=lambda e: _raised(e, lab.IdempotencyConflict))
        for params, amount in (('{"force":true}', 3), ("", 4))
    ]
    empty_or_none = {}
    for number, pair in enumerate(EMPTY_AND_NO_PARAMS):
        ran_empty: list[str] = []
        steps = []
        for given in pair:
            steps.append(outcome(
                lambda given=given: lab.run_once(
                    keys, f"idem-45-{number}", given,
                    lambda given=given: ran_empty.append(given) or f"rotated with {given!r}"),
                describe=lambda e: _raised(e, lab.IdempotencyConflict)))
            record_ = keys.get(f"idem-45-{number}")
            steps[-1]["record_params"] = (plain(record_.params)
                                          if isinstance(record_, KeyRecord) else None)
        empty_or_none[" then ".join(map(repr, pair))] = {"calls": steps, "ran": ran_empty}
    long_result = "deployed to " + ", ".join(f"web-{n}" for n in range(400))
    long_runs: list[int] = []
    long_replay = [outcome(lambda: lab.run_once(keys, "idem-53", "deploy:all",
                                                lambda: long_runs.append(1) or long_result),
                           keep=lambda value: {"whole": value == long_result,
                                               "length": len(value)
                                               if isinstance(value, str) else None})
                   for _ in range(2)]
    silent_runs: list[int] = []

    def rotate_quietly() -> str:
        silent_runs.append(1)
        return ""

    silent = [outcome(lambda: lab.run_once(keys, "idem-51", "rotate:quiet", rotate_quietly),
                      describe=lambda e: _raised(e, lab.KeyInProgress)) for _ in range(2)]
    quiet_then_other = [
        outcome(lambda params=params: lab.run_once(keys, "idem-52", params, lambda: ""),
                describe=lambda e: _raised(e, lab.IdempotencyConflict))
        for params in ("rotate:quiet", "rotate:loud")]
    look_alike = []
    for number, pair in enumerate(LOOK_ALIKE_PARAMS):
        ran: list[str] = []
        look_alike.append({"calls": [
            outcome(lambda params=params: lab.run_once(
                keys, f"idem-6{number}", params, lambda params=params: ran.append(params) or "ok"),
                describe=lambda e: _raised(e, lab.IdempotencyConflict))
            for params in pair], "ran": ran})
    unicode = []
    for number, (params, other) in enumerate(unicode_params()):
        ran_: list[str] = []

        def act(params: str, ran_: list[str] = ran_) -> Callable[[], str]:
            return lambda: ran_.append(params) or f"refunded with {params}"

        replayed = [outcome(lambda: lab.run_once(keys, f"idem-u-replay-{number}", params,
                                                 act(params)),
                            describe=lambda e: _raised(e, lab.IdempotencyConflict))
                    for _ in range(2)]
        replay_ran = list(ran_)
        conflicts = {}
        for order, (first, second) in (("as generated", (params, other)),
                                       ("the other way round", (other, params))):
            del ran_[:]
            conflicts[order] = {"calls": [
                outcome(lambda given=given: lab.run_once(
                    keys, f"idem-u-{order[:3]}-{number}", given, act(given)),
                    describe=lambda e: _raised(e, lab.IdempotencyConflict))
                for given in (first, second)], "ran": list(ran_)}
        unicode.append({"replay": {"calls": replayed, "ran": replay_ran}, **conflicts})
    return {
        "empty_and_no_params": empty_or_none,
        "unicode": unicode,
        "quiet_then_other": {"calls": quiet_then_other},
        "long_replay": {"calls": long_replay, "runs": len(long_runs),
                        "length": len(long_result)},
        "look_alike": look_alike,
        "calls": calls,
        "runs": first_runs,
        "record_params": plain(record.params) if isinstance(record, KeyRecord) else None,
        "empty_first": empty_first,
        "empty_second": empty_second,
        "replay": {"calls": replay, "runs": len(replay_runs)},
        "silent_replay": {"calls": silent, "runs": len(silent_runs)},
    }


#: One key used with an empty params text, then with the text of no arguments, and the
#: other way round: two params texts (an empty text is params too, compared with ==).
EMPTY_AND_NO_PARAMS = (("", "{}"), ("{}", ""), ("", "[]"), ("", "null"))


def _checksum_twins() -> tuple[str, str]:
    """Two params texts of the same shape (a refund of an amount for a charge) with one
    CRC-32, found from a seed: other params, though a 32-bit fingerprint takes them for
    the same."""
    rng, seen = random.Random(ARGUMENTS_SEED), {}
    while True:
        text = (f'refund:{{"amount":{rng.randint(1, 999)},'
                f'"charge":"ch_{rng.getrandbits(40):010x}"}}')
        checksum = zlib.crc32(text.encode("utf-8"))
        if seen.get(checksum, text) != text:
            return seen[checksum], text
        seen[checksum] = text


#: Params that are other texts, though Python's ``==`` finds their JSON values equal, that
#: differ only past the 255th character, or that share a short fingerprint (CRC-32).
LOOK_ALIKE_PARAMS = (('{"force":true}', '{"force":1}'), ('{"replicas":1}', '{"replicas":1.0}'),
                     ('{"dry_run":false}', '{"dry_run":0}'),
                     ('{"hosts":"' + "web," * 80 + 'db-1"}', '{"hosts":"' + "web," * 80 + 'db-2"}'),
                     ('{"note":"a  b"}', '{"note":"a b"}'), ("", " "),
                     ('{"tag":"RC1"}', '{"tag":"rc1"}'), ("plumless", "buckeroo"),
                     ("codding", "gnu"), _checksum_twins())


@SCENARIOS.scenario
def failure_not_cached(lab: ModuleType) -> dict[str, Any]:
    """An action that fails once and then works, under one key; one interrupted once
    (KeyboardInterrupt); and a deploy that fails once, through the executor."""
    keys, attempts = MemoryKeyStore(), []

    copy_attempts: list[int] = []

    def flaky_copy() -> str:
        copy_attempts.append(1)
        if len(copy_attempts) == 1:
            raise ToolFailure("gateway timeout")
        return "charged through a store of copies"

    def flaky() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise ToolFailure("gateway timeout")
        return f"charged on attempt {len(attempts)}"

    calls, attempts_after = [], []
    for _ in range(3):
        calls.append(outcome(lambda: lab.run_once(keys, "idem-7", "charge:5", flaky),
                             describe=lambda e: _raised(e, ToolFailure)))
        attempts_after.append(len(attempts))
    interrupted = []

    def interrupted_once() -> str:
        interrupted.append(len(interrupted) + 1)
        if len(interrupted) == 1:
            raise KeyboardInterrupt
        return "exported after the interrupt"

    after_interrupt = [
        outcome(lambda: lab.run_once(keys, "idem-8", "export:all", interrupted_once),
                describe=lambda e: _raised(e, KeyboardInterrupt))
        for _ in range(2)
    ]
    timed_out: list[int] = []

    def times_out_once() -> str:
        timed_out.append(len(timed_out) + 1)
        if len(timed_out) == 1:
            raise TimeoutError("the payment gateway did not answer")
        return "paid after the timeout"

    after_timeout = [
        outcome(lambda: lab.run_once(keys, "idem-9", "pay:12", times_out_once),
                describe=lambda e: _raised(e, TimeoutError))
        for _ in range(2)
    ]
    def fails_from_a_reset() -> str:
        raise _chained_failure()

    chained = outcome(lambda: lab.run_once(keys, "idem-10", "deploy:web", fails_from_a_reset),
                      describe=lambda e: {**describe_error(e),
                                          "cause": type_name(e.__cause__)
                                          if e.__cause__ is not None else None})
    interrupted_otherwise = {}
    for name, make in (("SystemExit", lambda: SystemExit(3)),
                       ("asyncio.CancelledError", asyncio.CancelledError),
                       ("GeneratorExit", GeneratorExit)):
        tries_: list[int] = []

        def stopped_once(make: Callable[[], BaseException] = make,
                         tries_: list[int] = tries_) -> str:
            tries_.append(1)
            if len(tries_) == 1:
                raise make()
            return "ran after the stop"

        interrupted_otherwise[name] = [
            outcome(lambda: lab.run_once(keys, f"idem-stop-{name}", "stop:1", stopped_once))
            for _ in range(2)]
    own_errors = {}
    for name, make in (("IdempotencyConflict",
                        lambda: lab.IdempotencyConflict("idem-inner", "a", "b")),
                       ("KeyInProgress", lambda: lab.KeyInProgress("idem-inner")),
                       ("TaskInProgress", lambda: lab.TaskInProgress("task-inner")),
                       ("TaskNotFound", lambda: lab.TaskNotFound("task-inner"))):
        tries: list[int] = []

        def nested_once(make: Callable[[], BaseException] = make,
                        tries: list[int] = tries) -> str:
            tries.append(1)
            if len(tries) == 1:
                raise make()
            return "ran after the inner error"

        own_errors[name] = [
            outcome(lambda: lab.run_once(keys, f"idem-own-{name}", "nested:1", nested_once),
                    describe=lambda e: describe_error(e))
            for _ in range(2)]
    carrying_output = {}
    for name, make in FAILURES_WITH_OUTPUT.items():
        tries_out: list[int] = []

        def fails_with_output(make: Callable[[], Exception] = make,
                              tries_out: list[int] = tries_out) -> str:
            tries_out.append(1)
            if len(tries_out) == 1:
                raise make()
            return "ran again after the failure"

        carrying_output[name] = {"calls": [
            outcome(lambda name=name, fails_with_output=fails_with_output: lab.run_once(
                keys, f"idem-output-{name}", "deploy:web", fails_with_output),
                describe=lambda e: describe_error(e))
            for _ in range(2)], "runs": tries_out}
    tools = DevOpsTools()
    tools.fail_next("apply_deploy")

    def deploy_twice() -> list[Any]:
        execute = lab.IdempotentTools(tools, MemoryKeyStore(), "task-deploy-3")
        results = []
        for _ in range(2):
            results.append(outcome(lambda: execute("apply_deploy", '{"service":"web","version":"3.0"}'),
                                   describe=lambda e: _raised(e, ToolFailure)))
        return results

    executor = outcome(deploy_twice)
    cleared_tools, cleared_keys = DevOpsTools(), MemoryKeyStore()

    def deploy_cleared_between() -> list[str]:
        execute = lab.IdempotentTools(cleared_tools, cleared_keys, "task-deploy-9")
        arguments = '{"service":"web","version":"3.1"}'
        execute("apply_deploy", arguments)
        for key in cleared_keys.keys():  # an operator clears the keys: deploy again
            cleared_keys.delete(key)
        execute("apply_deploy", arguments)
        return list(cleared_tools.deployed)

    cleared = outcome(deploy_cleared_between)
    copying = _CopyingKeyStore()
    copy_calls = [outcome(lambda: lab.run_once(copying, "idem-copy", "charge:5", flaky_copy),
                          describe=lambda e: _raised(e, ToolFailure)) for _ in range(2)]
    other_after_failure = {}
    for name, sequence in OTHER_PARAMS_AFTER_FAILURE.items():
        ran: list[str] = []

        def charge(params: str, fails: bool, ran: list[str] = ran) -> Callable[[], str]:
            def action() -> str:
                ran.append(params)
                if fails:
                    raise ToolFailure(f"gateway timeout ({params})")
                return f"done with {params}"

            return action

        tried = [outcome(lambda params=params, fails=fails: lab.run_once(
                     keys, f"idem-after-{name}", params, charge(params, fails)),
                         describe=lambda e: _raised(e, ToolFailure))
                 for params, fails in sequence]
        other_after_failure[name] = {"calls": tried, "ran": ran}
    quiet = _QuietTools()
    quiet_executor = lab.IdempotentTools(quiet, MemoryKeyStore(), "task-q")
    quiet_replies = outcome(lambda: [quiet_executor("clean_logs", "{}") for _ in range(3)])
    return {
        "carrying_output": {name: {"calls": case["calls"], "runs": len(case["runs"])}
                            for name, case in carrying_output.items()},
        "calls": calls,
        "attempts": len(attempts),
        "attempts_after": attempts_after,
        "after_interrupt": after_interrupt,
        "interrupted_runs": len(interrupted),
        "after_timeout": after_timeout,
        "own_errors": own_errors,
        "interrupted_otherwise": interrupted_otherwise,
        "chained": chained,
        "executor": executor,
        "cleared": cleared,
        "copying_store": copy_calls,
        "other_after_failure": other_after_failure,
        "quiet_replies": quiet_replies,
        "deploy_calls": tools.calls["apply_deploy"],
        "deployed": list(tools.deployed),
    }


class _StepFailed(Exception):
    """A failure of a tool of one's own that carries what it printed before it failed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


#: Failures that carry output (what a command printed before it failed): a failure all the
#: same, never a result.
FAILURES_WITH_OUTPUT: dict[str, Callable[[], Exception]] = {
    "CalledProcessError with output": lambda: subprocess.CalledProcessError(
        1, ["deploy", "web"], output="step 1 of 3 done"),
    "CalledProcessError with stdout and stderr": lambda: subprocess.CalledProcessError(
        2, "deploy web", stderr="permission denied", output="built the config\n"),
    "TimeoutExpired with output": lambda: subprocess.TimeoutExpired(
        ["deploy", "web"], 300, output="waiting for web-2"),
    "an exception of one's own with output": lambda: _StepFailed(
        "step 2 failed", output="step 1 done"),
}


#: One key run with params that fail (True) or succeed (False), in turn: after a failure the
#: key is gone, so the next params run whatever they are.
OTHER_PARAMS_AFTER_FAILURE: dict[str, tuple[tuple[str, bool], ...]] = {
    "once": (("charge:5", True), ("charge:7", False)),
    "twice": (("charge:5", True), ("charge:7", True), ("charge:9", False)),
    "back_to_the_first": (("refund:10", True), ("refund:99", True), ("refund:10", False)),
    "empty_params": (("", True), ('{"force":true}', False)),
}


class _GapWatchingKeyStore(MemoryKeyStore):
    """A key store that, if a claim is deleted after its action succeeded and before its
    finished record is stored, lets another caller in at that moment, as a second
    executor arriving then would. (A finished record deleted afterwards is a key that
    forgets its result: the deduplication checks see that.)"""

    def __init__(self, arrive: Callable[["_GapWatchingKeyStore"], None]) -> None:
        super().__init__()
        self.arrive, self.succeeded = arrive, False

    def delete(self, key: str) -> None:
        record = super().get(key)
        super().delete(key)
        if self.succeeded and isinstance(record, KeyRecord) and not record.done:
            self.succeeded = False
            self.arrive(self)


@SCENARIOS.scenario
def finished_record(lab: ModuleType) -> dict[str, Any]:
    """A key whose action succeeds: another caller arriving while the finished record is
    being stored (if the key is ever free then) must not run the action again."""
    runs: list[str] = []
    late: list[Any] = []

    def charge() -> str:
        runs.append("first")
        store.succeeded = True
        return "charged 5 EUR"

    def arrive(keys: _GapWatchingKeyStore) -> None:
        late.append(outcome(lambda: lab.run_once(keys, "idem-gap", "charge:5",
                                                 lambda: runs.append("late") or "again")))

    store = _GapWatchingKeyStore(arrive)
    first = outcome(lambda: lab.run_once(store, "idem-gap", "charge:5", charge))
    return {"first": first, "runs": runs, "late": late}


class _CopyingKeyStore(MemoryKeyStore):
    """A key store that hands out copies of its records, as one on disk or in a database
    does: equal to what was stored, never the same object."""

    def get(self, key: str) -> KeyRecord | None:
        found = super().get(key)
        return None if found is None else replace(found)

    def put_if_absent(self, record: KeyRecord) -> KeyRecord | None:
        found = super().put_if_absent(record)
        return None if found is None else replace(found)


class _QuietTools(DevOpsTools):
    """Tools whose side effects reply with nothing at all, as a tool may."""

    def execute(self, name: str, arguments: str, **kwargs: Any) -> str:
        super().execute(name, arguments, **kwargs)
        return ""


class _LineUp:
    """Holds each of two racing threads at its first store operation until the other has
    reached its own: every racer has looked before any writes. Unlike the kit's
    :class:`~labs.kit.race.Rendezvous` it says when the line-up timed out (a racer that
    never arrived: the submission serialises the racers, which the contract allows), so
    that the rounds stop there instead of waiting once more in each; and it holds no one
    until it is armed (the set-up before the race runs through)."""

    def __init__(self) -> None:
        self._barrier = threading.Barrier(2, timeout=MEET_WAIT)
        self._met = threading.local()
        self.armed = True
        self.timed_out = False

    def meet(self) -> None:
        if not self.armed or getattr(self._met, "done", False):
            return
        self._met.done = True
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            self.timed_out = True  # the other racer never came: nothing to line up with


class _Gate:
    """Holds the work of a key race until the other racer has decided: its call has
    returned or raised (turned away), or it has entered the work too. So the other racer
    always meets the key while the first call is still running, never a record finished
    a moment earlier, whatever the load on the machine (a second run after the first had
    finished is a finished key forgotten, not a race). It holds no one longer than
    :data:`MEET_WAIT` real seconds (a racer that waits for the first call to finish, which
    the contract does not ask, and says so: ``timed_out``)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._entered = self._decided = 0
        self.timed_out = False

    def hold(self) -> None:
        with self._changed:
            self._entered += 1
            self._changed.notify_all()
            if not self._changed.wait_for(lambda: self._decided or self._entered >= 2,
                                          timeout=MEET_WAIT):
                self.timed_out = True

    def decided(self) -> None:
        with self._changed:
            self._decided += 1
            self._changed.notify_all()


def _lined_up(store: Any) -> _LineUp:
    """Puts a :class:`_LineUp` in place of a kit lined-up store's rendezvous."""
    store.rendezvous = _LineUp()
    return store.rendezvous


def _race(call: Callable[[], Any], *in_progress: type[BaseException]) -> dict[str, Any]:
    """``call`` in two threads released together, each thread's first read lined up with
    the other's; what each got, or ``hung``."""
    finishes = race(call, join=RACE_JOIN)
    if finishes is None:
        return {"hung": True}
    return {
        "hung": False,
        "outcomes": [
            outcome(finish.unwrap, describe=lambda e: _raised(e, *in_progress))
            for finish in finishes
        ],
    }


def _task_races(lab: ModuleType, rounds: int, state: TaskState,
                ticks: Iterator[int]) -> list[dict[str, Any]]:
    """``rounds`` races of two executors on one task in ``state``, until one hangs or the
    racers cannot be lined up."""
    found = []
    for round_ in range(rounds):
        store = LinedUpTaskStore()
        lineup = _lined_up(store)
        task = Task(id=f"task-race-{state.value}-{round_}", user_input="deploy web",
                    state=state, created_at=0.0, updated_at=0.0,
                    error="ToolFailure: gateway timeout" if state is TaskState.FAILED else None)
        store.save(task)
        work = _Work(None, 0.003, "deployed web@2.4.1")
        raced = _race(lambda: lab.execute_task(store, task.id, work,
                                               now=lambda: float(next(ticks))),
                      lab.TaskInProgress)
        found.append({"work_runs": work.runs, "lined_up": not lineup.timed_out, **raced})
        if raced["hung"] or lineup.timed_out:
            break
    return found


@SCENARIOS.scenario
def concurrency(lab: ModuleType) -> dict[str, Any]:
    """Two threads execute one task, then run one key, at the same moment, round after
    round; the work takes a few real milliseconds. A race whose racers cannot be lined up
    (the submission serialises them: one waits while the other holds the line-up) stops
    after that round and says so (``lined_up``), instead of waiting once more per round."""
    ticks = itertools.count(1)
    tasks = _task_races(lab, RACE_ROUNDS, TaskState.PENDING, ticks)
    failed_tasks = _task_races(lab, RACE_ROUNDS // 5, TaskState.FAILED, ticks)
    keys = []
    for _ in range(RACE_ROUNDS):
        store_keys = LinedUpKeyStore()
        lineup = _lined_up(store_keys)
        work, gate = _Work(None, 0.003, "charged 5 EUR"), _Gate()

        def charge(store_keys: LinedUpKeyStore = store_keys, work: _Work = work,
                   gate: _Gate = gate) -> str:
            try:
                return lab.run_once(store_keys, "idem-race", "charge:5",
                                    lambda: gate.hold() or work(None))
            finally:
                gate.decided()

        raced = _race(charge, lab.KeyInProgress)
        keys.append({"work_runs": work.runs, "lined_up": not lineup.timed_out,
                     "held": not gate.timed_out, **raced})
        if raced["hung"] or lineup.timed_out or gate.timed_out:
            break
    other_params = []
    for _ in range(RACE_ROUNDS // 5):
        store_keys, turn = LinedUpKeyStore(), itertools.count()
        lineup = _lined_up(store_keys)
        work = _Work(None, 0.003, "charged")

        def charge_own_amount() -> str:
            amount = (5, 7)[next(turn)]  # the first thread in charges 5, the other 7
            return lab.run_once(store_keys, "idem-race-2", f"charge:{amount}",
                                lambda: work(None))

        raced = _race(charge_own_amount, lab.IdempotencyConflict)
        other_params.append({"work_runs": work.runs, "lined_up": not lineup.timed_out,
                             **raced})
        if raced["hung"] or lineup.timed_out:
            break
    return {"tasks": tasks, "failed_tasks": failed_tasks, "keys": keys,
            "other_params": other_params}


class _SharedKeyTable:
    """One table of idempotency keys, as a database holds it: every handle opened on it
    sees the same records, and its insert-if-absent is atomic across handles (the
    database's ``INSERT ... ON CONFLICT DO NOTHING``); a lock of a handle's user is not."""

    def __init__(self) -> None:
        self.records: dict[str, KeyRecord] = {}
        self.lock = threading.Lock()
        self.lineup = _LineUp()


class _KeyHandle:
    """One handle on a :class:`_SharedKeyTable` (a connection, another process's store
    object), with exactly the methods of the ``KeyStore`` protocol. Each racing thread's
    first operation is lined up so that every racer has looked before any writes: a read
    (``get``, or a ``put_if_absent`` that finds a record) waits after it has read, a write
    (an insert, ``put``, ``delete``) waits before it writes."""

    def __init__(self, table: _SharedKeyTable) -> None:
        self._table = table

    def get(self, key: str) -> KeyRecord | None:
        with self._table.lock:
            found = self._table.records.get(key)
        self._table.lineup.meet()
        return found

    def put_if_absent(self, record: KeyRecord) -> KeyRecord | None:
        _require_record(record)
        with self._table.lock:
            found = self._table.records.get(record.key)
        if found is not None:  # a look: it is over before the other racer writes
            self._table.lineup.meet()
            return found
        self._table.lineup.meet()
        with self._table.lock:  # the insert itself, atomic as the database's
            found = self._table.records.get(record.key)
            if found is None:
                self._table.records[record.key] = record
            return found

    def put(self, record: KeyRecord) -> None:
        _require_record(record)
        self._table.lineup.meet()
        with self._table.lock:
            self._table.records[record.key] = record

    def delete(self, key: str) -> None:
        self._table.lineup.meet()
        with self._table.lock:
            self._table.records.pop(key, None)


def _require_record(record: object) -> None:
    if not isinstance(record, KeyRecord):
        raise TypeError(f"a key store keeps KeyRecord objects, not {type(record).__name__}")


#: Rounds of each shared-table race: the line-up decides each one, so a few are plenty.
SHARED_ROUNDS = 4


def _shared_table_races(modules: list[ModuleType], *, handles: int,
                        fail_first: bool) -> list[dict[str, Any]]:
    """Races of two callers on one key of one shared table, until one hangs or the racers
    cannot be lined up: each racer through ``modules[i]`` (the same module, or one loaded
    afresh as another process), over its own handle (``handles=2``) or one handle shared.
    With ``fail_first`` the key's action has failed once before (alone): the racers retry
    it."""
    found = []
    in_progress = tuple(module.KeyInProgress for module in modules)
    for _ in range(SHARED_ROUNDS):
        table = _SharedKeyTable()
        opened = [_KeyHandle(table) for _ in range(handles)]
        retry: Any = None
        if fail_first:
            table.lineup.armed = False
            retry = outcome(lambda: modules[0].run_once(opened[0], "idem-shared", "charge:5",
                                                        _fails), describe=lambda e: _raised(e, ToolFailure))
            table.lineup.armed = True
        work, turn = _Work(None, 0.0, "charged 5 EUR"), itertools.count()

        def charge() -> str:
            index = next(turn) % 2
            return modules[index].run_once(opened[index % handles], "idem-shared", "charge:5",
                                           lambda: work(None))

        raced = _race(charge, *in_progress)
        found.append({"work_runs": work.runs, "lined_up": not table.lineup.timed_out,
                      "failed_first": retry, **raced})
        if raced["hung"] or table.lineup.timed_out:
            break
    return found


def _fails() -> str:
    raise ToolFailure("gateway timeout")


@SCENARIOS.scenario
def shared_table(lab: ModuleType) -> dict[str, Any]:
    """Two callers claim one key of one table at the same moment, each through its own
    handle (as two executors on lab 04's store opened twice do), from one process and from
    two; and two callers retry a key whose action failed, at the same moment."""
    fresh = _another_process(lab)
    alone_runs: list[int] = []

    def flaky() -> str:
        alone_runs.append(1)
        if len(alone_runs) == 1:
            raise ToolFailure("gateway timeout")
        return "charged on the retry"

    table = _SharedKeyTable()
    table.lineup.armed = False
    alone = [outcome(lambda: lab.run_once(_KeyHandle(table), "idem-alone", "charge:5", flaky),
                     describe=lambda e: _raised(e, ToolFailure)) for _ in range(2)]
    replays: list[int] = []
    replayed = [outcome(lambda: lab.run_once(_KeyHandle(table), "idem-replay", "charge:5",
                                             lambda: replays.append(1) or "charged once"))
                for _ in range(2)]
    return {
        "replay_alone": {"calls": replayed, "runs": len(replays)},
        "two_handles": _shared_table_races([lab, lab], handles=2, fail_first=False),
        "two_processes": _shared_table_races([lab, fresh], handles=2, fail_first=False),
        "retry_alone": {"calls": alone, "runs": len(alone_runs)},
        "failed_key": _shared_table_races([lab, lab], handles=1, fail_first=True),
        "failed_key_two_handles": _shared_table_races([lab, lab], handles=2,
                                                      fail_first=True),
    }
