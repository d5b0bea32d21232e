"""Lab 04's public checks (persistence and resume); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab04 as selfcheck
    selfcheck.atomic_write()      # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()        # every lab 04 check, and a Summary

The checks watch from the outside, as the grader does: the store's file on disk and what a
fresh store on the same path reads back, every version of a task a ``MemoryTaskStore``
saw, the turns the fake LLM was asked for, and the DevOps server's side-effect counters
and journal. The crashes are real where it matters: a save killed by the kernel in the
middle of its write, an agent killed with SIGKILL at every event of a deploy, each in a
child process of its own (:func:`labs.kit.crash.in_child_process`) with a time limit, so
that a check never hangs. Every file lives in a temporary folder, removed afterwards.

Lab 04 imports lab 02 (``TaskNotFound``, ``idempotency_key``), so with ``LAB_IMPL=labs``
these checks run your lab 04 on your own lab 02, and a gap there shows here too. The
grader uses the reference lab 02 while it grades lab 04 (as ``load_lab`` does with
``LAB_IMPL=solutions``).
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from labs.kit.agent import start_messages
from labs.kit.clock import FrozenClock
from labs.kit.crash import Crash, CrashPlan, Ending, in_child_process
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import Step, reply, tool_call
from labs.kit.notebook import RecordingClock, load_lab
from labs.kit.selfcheck import (
    MAX_CALLS,
    GuardedLLM,
    RunawayError,
    Summary,
    count,
    run_checks,
    short,
    verdict,
)
from labs.kit.tasks import MemoryTaskStore, Task, TaskState

LAB04 = "lab04_persistence"
FOLDER_PREFIX = "lab04-check-"
_TEMPORARY = re.compile(re.escape(tempfile.gettempdir()) + rf"/{FOLDER_PREFIX}[^/]+/")
#: Real seconds a child process may take before the check calls it hung.
CHILD_LIMIT = 10.0
#: Real seconds a thread may take before the check calls it hung.
THREAD_JOIN = 10.0
#: Saves one resume may make before the check calls it a runaway loop.
MAX_SAVES = 200

GOAL = "Make room on the disk, then roll billing out to 5.2.0."
BILLING, RELEASE = {"service": "billing"}, {"service": "billing", "version": "5.2.0"}
ANSWER = "billing 5.2.0 is live and healthy; the disk is at 75%"
#: The model's side of the rollout, turn by turn: two side effects before the deploy, and
#: a last turn that asks for two tools at once.
SCRIPT: tuple[Step, ...] = (
    reply(tool_calls=[tool_call("check_disk", id="call_k1")], latency=20),
    reply(tool_calls=[tool_call("clean_logs", id="call_k2")], latency=25),
    reply(tool_calls=[tool_call("build_config", RELEASE, id="call_k3")], latency=40),
    reply(tool_calls=[tool_call("apply_deploy", RELEASE, id="call_k4"),
                      tool_call("verify", BILLING, id="call_k5")], latency=35),
    reply(ANSWER, latency=15),
)
ONCE_EACH = {"apply_deploy": 1, "build_config": 1, "clean_logs": 1}
ROLLOUT = "task-billing-520"
#: 2026-01-01 15:00:00.654321 UTC: a timestamp whose microseconds must survive.
T1 = 1_767_279_600.654321


# -- observing calls ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one call did: the value it returned, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    def raised(self, kind: type[BaseException]) -> bool:
        return isinstance(self.error, kind)

    def describe(self) -> str:
        """``returned ...`` or ``raised Type: message``."""
        if self.error is None:
            return f"returned {short(self.value, 60)}"
        return f"raised {_error_text(self.error)}"


def _attempt(call: Callable[[], Any]) -> Outcome:
    """Run ``call``; what it returned or raised. NotImplementedError goes through; a
    :class:`~labs.kit.crash.Crash` or a runaway is an observation like any error."""
    try:
        return Outcome(value=call())
    except NotImplementedError:
        raise
    except (Crash, RunawayError) as stopped:
        return Outcome(error=stopped)
    except Exception as error:  # noqa: BLE001 - what the lab raised is the observation
        return Outcome(error=error)


class _SetupFailed(Exception):
    """A step a check needs before it can observe anything did not work; the message says
    what happened."""


def _observed(what: str, observe: Callable[[], list[str]]) -> list[str]:
    """The problems ``observe`` found; an exception it let out is a problem of its own."""
    seen = _attempt(observe)
    if isinstance(seen.error, _SetupFailed):
        return [f"{what}: {seen.error}"]
    if seen.error is not None:
        return [f"{what}: {seen.describe()}"]
    return seen.value


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {short(_hide_folders(str(error)), 90)}"


def _hide_folders(text: str) -> str:
    """``text`` without the checks' temporary folders: file names only."""
    return _TEMPORARY.sub("", text)


def _in_child(work: Callable[[], Any]) -> Ending:
    """How ``work`` ended in a child process. A NotImplementedError there is raised here,
    so that the check stops and names the missing function, as it does in-process."""
    ending = in_child_process(work, limit=CHILD_LIMIT)
    prefix = "NotImplementedError: "
    if ending.error is not None and ending.error.startswith(prefix):
        raise NotImplementedError(ending.error[len(prefix):])
    return ending


def _ended(ending: Ending) -> str:
    return _hide_folders(str(ending))


@contextmanager
def _folder() -> Iterator[Path]:
    """A temporary folder for one check's files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX) as name:
        yield Path(name)


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB04)


def _open(lab: ModuleType, kind: str, path: Path) -> Any:
    return getattr(lab, kind)(path)


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


class _GuardedStore(MemoryTaskStore):
    """A memory store that stops a resume saving far more often than any run needs."""

    def save(self, task: Task) -> None:
        if len(self.saves) >= MAX_SAVES:
            raise RunawayError(f"did not stop: more than {MAX_SAVES} saves")
        super().save(task)


class _GuardedTools(DevOpsTools):
    """The DevOps server, stopping a loop that runs far more tools than any run needs."""

    def run(self, name: str, arguments: Any = None, *, idempotency_key: str | None = None) -> str:
        if sum(self.calls.values()) >= MAX_CALLS:
            raise RunawayError(f"did not stop: more than {MAX_CALLS} tool runs")
        return super().run(name, arguments, idempotency_key=idempotency_key)


# -- tasks worth saving --------------------------------------------------------------------


def _conversation() -> tuple[dict[str, Any], ...]:
    """A conversation with a tool call, its reply and non-ASCII text."""
    return (
        *start_messages("Déployer billing 5.2.0 — «prudemment», s'il vous plaît"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_r1", "type": "function",
             "function": {"name": "build_config",
                          "arguments": '{"service": "billing", "version": "5.2.0"}'}}]},
        {"role": "tool", "tool_call_id": "call_r1", "content": "config #1 for billing@5.2.0 built"},
        {"role": "assistant", "content": "billing 5.2.0: config built ✓, deploy next → 15:12"},
    )


def _saved_tasks() -> tuple[list[Task], Task]:
    """Three tasks in three states, and a later version of the third (the one to keep)."""
    talk = _conversation()
    tasks = [
        Task(id=ROLLOUT, user_input=GOAL, state=TaskState.COMPLETED,
             result="billing → 5.2.0 ✓", created_at=T1, updated_at=T1 + 754.000321,
             messages=talk),
        Task(id="task-db-7-vacuum", user_input="Vacuum db-7", state=TaskState.FAILED,
             error="ToolFailure: db-7 is read-only", created_at=T1 + 0.000002,
             updated_at=T1 + 13.5, messages=talk[:4]),
        Task(id="task-cache-warm", user_input="Warm the cache", created_at=T1 + 1.25,
             updated_at=T1 + 1.25),
    ]
    later = replace(tasks[2], state=TaskState.RUNNING, updated_at=T1 + 9.000001)
    return tasks, later


def _differences(saved: Task, read: Any, *, types: bool = True) -> list[str]:
    """What is wrong with ``read``, a task read back, against ``saved``: the fields that
    differ, and with ``types`` the fields read back as another type."""
    if not isinstance(read, Task):
        return [f"read back as {short(read)}"]
    wrong = [
        f"{field.name} {short(getattr(read, field.name), 36)} instead of "
        f"{short(getattr(saved, field.name), 36)}"
        for field in fields(Task)
        if getattr(read, field.name) != getattr(saved, field.name)
    ]
    if not types:
        return wrong
    if not isinstance(read.state, TaskState):
        wrong.append(f"the state came back as a {type(read.state).__name__}, not a TaskState")
    if not all(type(stamp) is float for stamp in (read.created_at, read.updated_at)):
        wrong.append(f"the timestamps came back as {type(read.created_at).__name__} and "
                     f"{type(read.updated_at).__name__}, not floats")
    if not isinstance(read.messages, tuple):
        wrong.append(f"messages came back as a {type(read.messages).__name__}, not a tuple")
    return wrong


def _round_trip(lab: ModuleType, kind: str, name: str) -> list[str]:
    """Tasks saved by ``kind`` in a child process, read back by a fresh ``kind`` on the same
    path in this one; the problems seen."""
    tasks, later = _saved_tasks()
    wanted = [tasks[0], tasks[1], later]
    with _folder() as folder:
        path = folder / name
        empty = _attempt(lambda: _read_back(lab, kind, path, [ROLLOUT]))
        if empty.error is not None or empty.value != {ROLLOUT: None}:
            return [(f"{kind} on a file that does not exist yet: get {empty.describe()}; "
                     "expected None (a missing file is an empty store)")]

        def save_all() -> None:
            store = _open(lab, kind, path)
            for task in (*tasks, later):
                store.save(task)
            _close(store)

        ending = _in_child(save_all)
        if ending.code != 0:
            return [f"{kind}: saving 3 tasks in a child process {_ended(ending)}"]
        ids = [task.id for task in wanted] + ["task-never-saved"]
        seen = _attempt(lambda: _read_back(lab, kind, path, ids))
    if seen.error is not None:
        return [f"a fresh {kind} on the same path: {seen.describe()}"]
    problems = [
        f"{task.id}: " + "; ".join(wrong)
        for task in wanted
        if (wrong := _differences(task, seen.value[task.id]))
    ]
    if seen.value["task-never-saved"] is not None:
        problems.append(f"an id never saved gave {short(seen.value['task-never-saved'])}, "
                        "not None")
    if problems:
        problems[0] = (f"3 tasks saved in one process, read back by a fresh {kind} in "
                       f"another: {problems[0]}")
    return problems


def _read_back(lab: ModuleType, kind: str, path: Path, ids: list[str]) -> dict[str, Any]:
    store = _open(lab, kind, path)
    try:
        return {task_id: store.get(task_id) for task_id in ids}
    finally:
        _close(store)


# -- lab04.survives-restart ------------------------------------------------------------------


def survives_restart(lab: ModuleType | None = None) -> bool:
    """Tasks saved by a ``JsonFileStore`` in one process are read back whole by a fresh one
    on the same path in another: every field equal, the state a ``TaskState``, the
    timestamps the same floats to the microsecond, the conversation intact; the later of
    two saves wins; an id never saved is None, and a missing file is an empty store."""
    lab = _lab(lab)
    problems = _round_trip(lab, "JsonFileStore", "tasks.json")
    return verdict(
        "survives-restart", problems,
        "3 tasks saved in one process (one of them twice), read back by a fresh JsonFileStore "
        f"in another: every field equal, timestamps to the µs, {len(_conversation())} "
        "messages with their tool calls, non-ASCII text, the later save kept; an unknown id "
        "is None",
    )


# -- lab04.atomic-write ----------------------------------------------------------------------

LEDGER = Task(id="task-ledger-close", user_input="Close the ledger for December",
              state=TaskState.COMPLETED, result="ledger closed for December",
              created_at=T1, updated_at=T1 + 3.0)


def _big_task() -> Task:
    """A task whose file is far larger than the room a cut-short write leaves."""
    notes = tuple({"role": "tool", "tool_call_id": f"call_n{n}", "content": "0123456789" * 150}
                  for n in range(45))
    return Task(id="task-audit-logs", user_input="Collect the audit logs", created_at=T1,
                updated_at=T1 + 60.0, messages=notes)


def _with_previous_state(lab: ModuleType, folder: Path) -> tuple[Path, Task]:
    """A store file in ``folder`` that holds :data:`LEDGER`, saved and closed, and the
    task as a fresh store reads it back: the state an interrupted save must leave."""
    path = folder / "tasks.json"
    store = lab.JsonFileStore(path)
    store.save(LEDGER)
    _close(store)
    if not path.is_file():
        raise _SetupFailed("after a save there is no file at the store's path: the state "
                           "lives in memory only")
    previous = _read_back(lab, "JsonFileStore", path, [LEDGER.id])[LEDGER.id]
    if not isinstance(previous, Task):
        raise _SetupFailed(f"a task saved, then read by a fresh store, came back as "
                           f"{short(previous)}")
    return path, previous


def _previous_kept(lab: ModuleType, path: Path, previous: Task, what: str) -> str:
    """What is wrong with the store after an interrupted save, or ''."""
    back = _attempt(lambda: _read_back(lab, "JsonFileStore", path, [LEDGER.id]))
    if back.error is not None:
        return (f"{what}: afterwards a fresh store {back.describe()}; expected the "
                "previous state, intact")
    wrong = _differences(previous, back.value[LEDGER.id], types=False)
    if wrong:
        return (f"{what}: afterwards a fresh store read {LEDGER.id} with {wrong[0]}; "
                "expected the previous state, intact")
    return ""


@contextmanager
def _failing(*names: str, reason: str) -> Iterator[None]:
    """``os.<name>`` for each of ``names`` raises OSError(EIO) while in the block."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, reason)

    with ExitStack() as stack:
        for name in names:
            stack.enter_context(mock.patch(f"os.{name}", fail))
        yield


def _renames_seen(lab: ModuleType, path: Path) -> tuple[Outcome, list[tuple[str, str]]]:
    """Save a newer version of the ledger task, watching every rename; the outcome and the
    (source, target) of each rename."""
    renames: list[tuple[str, str]] = []
    real = {"replace": os.replace, "rename": os.rename}

    def watched(name: str) -> Callable[..., None]:
        def rename(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
            renames.append((os.fspath(source), os.fspath(target)))
            real[name](source, target, *args, **kwargs)

        return rename

    newer = replace(LEDGER, result="ledger closed, 2 corrections", updated_at=T1 + 8.0)
    with mock.patch("os.replace", watched("replace")), mock.patch("os.rename", watched("rename")):
        saved = _attempt(lambda: lab.JsonFileStore(path).save(newer))
    return saved, renames


def _one_rename_beside(lab: ModuleType) -> list[str]:
    """A save reaches the file by one rename from a file in the same folder."""
    with _folder() as folder:
        path, _ = _with_previous_state(lab, folder)
        saved, renames = _renames_seen(lab, path)
        left = _files(folder)
    if saved.error is not None:
        return [f"a plain save {saved.describe()}"]
    onto = [(source, target) for source, target in renames
            if Path(target).resolve() == path.resolve()]
    if not onto:
        return [("a save changed the file without renaming anything onto it: it was written "
                 "in place (open(path, 'w') empties the file first, and a crash then leaves "
                 "it empty or half written)")]
    if any(Path(source).resolve().parent != path.resolve().parent for source, _ in onto):
        return [("the file was replaced by a rename from another folder: across file systems "
                 "a rename is a copy, not one atomic step; write the temporary file beside "
                 "the store")]
    if left != ["tasks.json"]:
        return [f"after a save the folder holds {left}; expected the store file only"]
    return []


def _refused(lab: ModuleType, names: tuple[str, ...], what: str, hint: str) -> list[str]:
    """A save while ``os.<name>`` fails: it raises, and leaves the file and folder clean."""
    with _folder() as folder:
        path, previous = _with_previous_state(lab, folder)
        newer = replace(LEDGER, result="overwritten", updated_at=T1 + 9.0)
        with _failing(*names, reason=f"I/O error ({what})"):
            saved = _attempt(lambda: lab.JsonFileStore(path).save(newer))
        problems = []
        if saved.error is None:
            problems.append(f"with {what}, the save returned normally: {hint}")
        problem = _previous_kept(lab, path, previous, f"with {what}")
        if problem:
            problems.append(problem)
        left = _files(folder)
    if left != ["tasks.json"]:
        problems.append(f"with {what}, the folder was left holding {left}: remove the "
                        "temporary file when a save fails")
    return problems


def _killed_mid_write(lab: ModuleType, how: list[str]) -> list[str]:
    """A save whose process the kernel kills (SIGXFSZ) as the write crosses a file size
    limit just above the store's size now; the problems. Adds how the child ended to
    ``how``."""
    with _folder() as folder:
        path, previous = _with_previous_state(lab, folder)
        limit = path.stat().st_size + 1536

        def save_big() -> None:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            lab.JsonFileStore(path).save(_big_task())

        how.append(_ended(_in_child(save_big)))
        problem = _previous_kept(lab, path, previous,
                                 f"a save {how[0]} when its write passed {limit} bytes")
    return [problem + " (writing in place empties the file before it writes)"] if problem else []


def atomic_write(lab: ModuleType | None = None) -> bool:
    """A save replaces the file by one rename from the same folder; a save whose rename or
    fsync fails raises, leaves the previous state readable and no temporary file; a save
    killed in the middle of its write leaves the previous state readable."""
    lab = _lab(lab)
    problems = _observed("a plain save", lambda: _one_rename_beside(lab))
    problems += _observed("a save with os.replace and os.rename failing", lambda: _refused(
        lab, ("replace", "rename"), "os.replace and os.rename failing",
        "the file was written some other way than by a rename, or the failure was swallowed",
    ))
    problems += _observed("a save with os.fsync failing", lambda: _refused(
        lab, ("fsync", "fdatasync"), "os.fsync failing",
        "the temporary file is never fsynced before the rename, so after a power cut the "
        "renamed file may be empty (or the failure was swallowed)",
    ))
    how: list[str] = []
    problems += _observed("a save killed mid-write", lambda: _killed_mid_write(lab, how))
    return verdict(
        "atomic-write", problems[:3],
        "a save is one rename in the same folder; rename failing, fsync failing: the error "
        f"raised, the previous state intact, no temporary file left; {''.join(how)} "
        "mid-write: the previous state intact",
    )


# -- lab04.corruption-detected ----------------------------------------------------------------


def _good_file() -> bytes:
    return json.dumps({"format": 1, "tasks": {LEDGER.id: LEDGER.to_dict()}}).encode("utf-8")


def _bad_files() -> dict[str, bytes]:
    """Store files that no store may read as a store, by what is wrong with them."""
    good = _good_file()
    entry = LEDGER.to_dict()
    del entry["updated_at"]
    return {
        "zero-filled": b"\x00" * 700,
        "cut 9 bytes short": good[:-9],
        "a JSON list": b'["format", 1, "tasks"]',
        "format 2": good.replace(b'"format": 1', b'"format": 2'),
        "a task without updated_at": json.dumps(
            {"format": 1, "tasks": {LEDGER.id: entry}}).encode("utf-8"),
        "invalid UTF-8": good.replace(b"December", b"Dec\xffember"),
    }


def _refuses_bad_file(lab: ModuleType, kind: str, name: str, content: bytes,
                      label: str) -> list[str]:
    """A store on a file holding ``content``: reading and saving raise the lab's
    StoreCorrupted naming the file, and the file is left as it was."""
    with _folder() as folder:
        path = folder / name
        path.write_bytes(content)
        problems = []
        read = _attempt(lambda: _read_back(lab, kind, path, [LEDGER.id]))

        def save() -> None:
            store = _open(lab, kind, path)
            try:
                store.save(replace(LEDGER, id="task-new", result=None))
            finally:
                _close(store)

        saved = _attempt(save)
        for step, seen in (("reading", read), ("saving", saved)):
            if seen.error is None:
                what = {"reading": "found no task (read as an empty store)"
                        if seen.value == {LEDGER.id: None} else seen.describe(),
                        "saving": "went through"}[step]
                problems.append(f"{label}: {step} {what}; expected your StoreCorrupted")
            elif not seen.raised(lab.StoreCorrupted):
                problems.append(f"{label}: {step} {seen.describe()}; expected your "
                                "StoreCorrupted, naming the file")
            elif str(path) not in str(seen.error):
                problems.append(f"{label}: the StoreCorrupted says "
                                f"{_error_text(seen.error)!r}; name the file in it")
        if not path.is_file() or path.read_bytes() != content:
            problems.append(f"{label}: it was written over or removed; leave a corrupted file "
                            "as it is")
    return problems


def corruption_detected(lab: ModuleType | None = None) -> bool:
    """A store file that is garbage, cut short, not a store, of another format, holding an
    invalid task or invalid text raises the lab's StoreCorrupted naming the file, when read
    and when saved to; it is never read as empty, and never written over."""
    lab = _lab(lab)
    bad = _bad_files()
    problems = [
        problem
        for label, content in bad.items()
        for problem in _observed(label, partial(
            _refuses_bad_file, lab, "JsonFileStore", "tasks.json", content, label))
    ]
    return verdict(
        "corruption-detected", problems[:3],
        f"{len(bad)} bad files ({', '.join(bad)}): each raised StoreCorrupted naming the "
        "file, on reading and on saving; none was written over",
    )


# -- resuming ----------------------------------------------------------------------------


@dataclass
class Resumed:
    """One call of ``resume_task``: its outcome, the turns it asked the model for, and the
    events of the run (replies and side effects) up to where it ended."""

    outcome: Outcome
    turns: list[int]
    events: list[str]


def _resume(lab: ModuleType, store: MemoryTaskStore, tools: DevOpsTools, clock: FrozenClock,
            task_id: str, crash_at: int | None = None) -> Resumed:
    """``resume_task`` once against :data:`SCRIPT`, crashing (``Crash``) at event
    ``crash_at`` of the run when given."""
    plan = CrashPlan(crash_at)
    tools.after_effect = plan.after_effect
    with GuardedLLM(SCRIPT, clock=clock, by_turn=True, before_reply=plan.before_reply) as llm:
        outcome = _attempt(lambda: lab.resume_task(store, task_id, llm.client(max_retries=0),
                                                   tools, now=clock.now))
        turns = [request.turn for request in llm.requests]
    tools.after_effect = None
    return Resumed(outcome, turns, plan.events)


def _turns(turns: list[int]) -> str:
    """Turns as a person counts them (from 1)."""
    return ", ".join(str(turn + 1) for turn in turns) or "none"


def _new_task(task_id: str, clock: FrozenClock, **changes: Any) -> Task:
    return Task(id=task_id, user_input=GOAL, created_at=clock.now(), updated_at=clock.now(),
                **changes)


# -- lab04.resume-completed-noop ---------------------------------------------------------------


def resume_completed_noop(lab: ModuleType | None = None) -> bool:
    """A completed task resumed (twice) returns its stored result, asks the model nothing,
    runs no tool and saves nothing."""
    lab = _lab(lab)
    result = "billing 5.2.0 went live at 15:12"
    with RecordingClock() as clock:
        store, tools = _GuardedStore(), _GuardedTools()
        store.save(_new_task(ROLLOUT, clock, state=TaskState.COMPLETED, result=result,
                             messages=_conversation()))
        clock.advance(3600.0)
        runs = [_resume(lab, store, tools, clock, ROLLOUT) for _ in range(2)]
    turns = [turn for run in runs for turn in run.turns]
    ran, saves = sum(tools.calls.values()), len(store.saves) - 1
    problems = []
    if not all(run.outcome.error is None and run.outcome.value == result for run in runs):
        problems.append("resuming a completed task: " + "; ".join(
            run.outcome.describe() for run in runs) + f"; expected its stored result {result!r}")
    if turns or ran or saves:
        problems.append(
            f"resuming a completed task twice sent {count(len(turns), 'LLM request')}, ran "
            f"{count(ran, 'tool')} and saved {count(saves, 'time')}; expected none of them"
        )
    return verdict(
        "resume-completed-noop", problems,
        f"resumed twice: the stored result each time, {count(len(turns), 'LLM request')}, "
        f"{count(ran, 'tool run')}, {count(saves, 'save')}",
    )


# -- lab04.resume-failed-retries ---------------------------------------------------------------


def _two_steps_done() -> tuple[dict[str, Any], ...]:
    """The rollout's conversation after its first two turns and their tools."""
    return (
        *start_messages(GOAL),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_k1", "type": "function",
             "function": {"name": "check_disk", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_k1",
         "content": "Disk Usage: 95% (CRITICAL). Large folder: /var/log"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_k2", "type": "function",
             "function": {"name": "clean_logs", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_k2",
         "content": "Logs cleaned. Freed 20GB. Disk now at 75%."},
    )


def _failed_then_resumed(lab: ModuleType, task_id: str, label: str,
                         messages: tuple[dict[str, Any], ...], error: str) -> tuple[list[str], str]:
    """A failed task resumed 5 minutes after it failed; the problems, and the turns it
    asked for."""
    with RecordingClock() as clock:
        store, tools = _GuardedStore(), _GuardedTools(disk_percent=75)
        store.save(_new_task(task_id, clock, state=TaskState.FAILED, error=error,
                             messages=messages))
        clock.advance(300.0)
        reset_at = clock.now()
        run = _resume(lab, store, tools, clock, task_id)
    history = store.history(task_id)[1:]
    states = [(getattr(t.state, "value", t.state), t.error) for t in history]
    shown = f"{label}: turns {_turns(run.turns)}"
    if not history or states[0] != ("pending", None):
        first = (f"the first save was {states[0][0]} with error {short(states[0][1])}"
                 if states else "nothing was saved")
        return [(f"{label}, resumed: {first}; expected the reset saved first: state "
                 "pending, error None")], shown
    if history[0].updated_at != reset_at:
        return [(f"{label}, resumed: the reset was saved with updated_at "
                 f"{short(history[0].updated_at)}; expected now(), {reset_at!r}")], shown
    if run.outcome.error is not None or run.outcome.value != ANSWER \
            or states[-1] != ("completed", None) or history[-1].result != ANSWER:
        return [(f"{label}, reset and resumed: resume {run.outcome.describe()} and the task "
                 f"ended {states[-1][0]} (error {short(states[-1][1])}); expected it run to "
                 f"completion with {ANSWER!r}")], shown
    return [], shown


def resume_failed_retries(lab: ModuleType | None = None) -> bool:
    """A failed task resumed is reset first (saved pending, its error cleared) and then
    run again to completion: one that failed after two turns, and one that failed before
    its first."""
    lab = _lab(lab)
    late, late_turns = _failed_then_resumed(lab, "task-billing-retry", "failed after 2 turns",
                                            _two_steps_done(),
                                            "APITimeoutError: Request timed out.")
    early, early_turns = _failed_then_resumed(lab, "task-billing-fresh",
                                              "failed before its first turn", (),
                                              "APIConnectionError: Connection error.")
    return verdict(
        "resume-failed-retries", late + early,
        "saved pending with the error cleared, then run to completion; "
        f"{late_turns}; {early_turns}",
    )


# -- lab04.resume-continues ------------------------------------------------------------------


def _shape(task: Any) -> list[Any]:
    """A conversation as roles, ids and contents: what must match an uninterrupted run's."""
    messages = getattr(task, "messages", None) or ()
    return [[m.get("role"), m.get("tool_call_id"), m.get("content"),
             [call.get("id") for call in m.get("tool_calls") or ()]] for m in messages]


def _resumed_from(events: list[str], at: int) -> int:
    """The first turn a run cut off at event ``at`` must ask for: the replies it had
    received and saved before the crash."""
    received = sum(1 for event in events[:at] if event.startswith("reply"))
    return received - 1 if events[at - 1].startswith("reply") else received


def resume_continues(lab: ModuleType | None = None) -> bool:
    """A run cut off at any event (a reply of the model, a side effect of a tool) and
    resumed in the same store asks only for the turns it had not saved, runs no finished
    tool again, and ends with the answer and conversation of an uninterrupted run."""
    lab = _lab(lab)
    with RecordingClock() as clock:
        store, tools = _GuardedStore(), _GuardedTools()
        store.save(_new_task("task-billing-whole", clock))
        whole = _resume(lab, store, tools, clock, "task-billing-whole")
        expected_runs, expected_shape = dict(tools.calls), _shape(store.get("task-billing-whole"))
        asked = dict(Counter(call.name for step in SCRIPT for call in step.tool_calls))
        if whole.outcome.value != ANSWER or whole.turns != list(range(len(SCRIPT))):
            problem = (f"an uninterrupted run: resume {whole.outcome.describe()} after asking "
                       f"for turns {_turns(whole.turns)}; expected {ANSWER!r} after turns 1 to "
                       f"{len(SCRIPT)}")
            return verdict("resume-continues", [problem], "")
        if expected_runs != asked:
            problem = (f"an uninterrupted run ran the tools {dict(sorted(expected_runs.items()))};"
                       f" expected what the model asked for, {dict(sorted(asked.items()))}")
            return verdict("resume-continues", [problem], "")
        events, problems, replays = whole.events, [], 0
        for at in range(1, len(events) + 1):
            store, tools = _GuardedStore(), _GuardedTools()
            task_id = f"task-billing-cut-{at}"
            store.save(_new_task(task_id, clock))
            first = _resume(lab, store, tools, clock, task_id, crash_at=at)
            then = _resume(lab, store, tools, clock, task_id)
            replays += tools.replays
            problem = _cut_problem(at, events, first, then, tools, store.get(task_id),
                                   expected_runs, expected_shape)
            if problem:
                problems.append(problem)
                break
    effects = sum(1 for event in events if not event.startswith("reply"))
    return verdict(
        "resume-continues", problems,
        f"cut off at each of the {len(events)} events ({len(events) - effects} replies, "
        f"{effects} side effects) and resumed: each asked only for the turns it had not "
        f"saved, no finished tool ran again, {count(replays, 'resent side effect')} answered "
        "from the server's record; the answer and conversation of an uninterrupted run",
    )


def _cut_problem(at: int, events: list[str], first: Resumed, then: Resumed, tools: DevOpsTools,
                 final: Any, expected_runs: dict[str, int], expected_shape: list[Any]) -> str:
    """What is wrong with a run cut off at event ``at`` and resumed, or ''."""
    where = f"cut off at event {at} of {len(events)} ({events[at - 1]}), then resumed"
    if not first.outcome.raised(Crash):
        return f"{where}: the first run {first.outcome.describe()} instead of ending at the crash"
    start = _resumed_from(events, at)
    expected = list(range(start, len(SCRIPT)))
    if then.turns != expected:
        restart = (" (it started over: save the conversation after every step, and resume "
                   "from it)") if then.turns[:1] == [0] and start > 0 else ""
        return (f"{where}: the resumed run asked for turns {_turns(then.turns)}; expected "
                f"{_turns(expected)}, the turns before were saved{restart}")
    if then.outcome.error is not None or then.outcome.value != ANSWER:
        return f"{where}: resume {then.outcome.describe()}; expected {ANSWER!r}"
    if dict(tools.calls) != expected_runs:
        return (f"{where}: the tools ran {dict(sorted(tools.calls.items()))} in all; one "
                f"uninterrupted run ran {dict(sorted(expected_runs.items()))} (a finished "
                "tool ran again)")
    state = getattr(getattr(final, "state", None), "value", None)
    if state != "completed" or _shape(final) != expected_shape:
        return (f"{where}: the task was saved {state} with "
                f"{count(len(_shape(final)), 'message')}; an uninterrupted run saved "
                f"completed with {len(expected_shape)}, the same conversation")
    return ""


# -- lab04.sqlite-store ----------------------------------------------------------------------


def _threads(work: Callable[[int], None], number: int) -> bool:
    """Run ``work(n)`` in ``number`` threads at once; False when one did not finish."""
    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(number)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_JOIN)
    return not any(thread.is_alive() for thread in threads)


def _concurrent_writers(lab: ModuleType, shown: list[str], writers: int = 6, saves: int = 15,
                        claimers: int = 5) -> list[str]:
    """``writers`` threads saving their own task ``saves`` times at once, then ``claimers``
    threads claiming one pending task at once, all on one SqliteStore; the problems. Adds
    the figures to ``shown``."""
    errors: list[str] = []
    claims: list[bool] = []
    with _folder() as folder:
        path = folder / "tasks.db"
        store = lab.SqliteStore(path)
        start = threading.Barrier(writers, timeout=THREAD_JOIN)

        def writer(n: int) -> None:
            try:
                start.wait()
                for step in range(1, saves + 1):
                    notes = tuple({"role": "tool", "tool_call_id": f"call_s{i}",
                                   "content": f"shard {n}, batch {i}"} for i in range(step))
                    store.save(Task(id=f"task-shard-{n}", user_input=f"Reindex shard {n}",
                                    created_at=T1, updated_at=T1 + step, messages=notes))
            except BaseException as error:  # noqa: BLE001 - reported, not fatal
                errors.append(_error_text(error))

        def claimer(n: int) -> None:
            try:
                start.wait()
                mine = Task(id="task-reindex", user_input="Reindex", state=TaskState.RUNNING,
                            result=f"claimed by worker {n}", created_at=T1, updated_at=T1 + n)
                claims.append(store.compare_and_set(mine, TaskState.PENDING) is True)
            except BaseException as error:  # noqa: BLE001
                errors.append(_error_text(error))

        finished = _threads(writer, writers)
        store.save(Task(id="task-reindex", user_input="Reindex", created_at=T1, updated_at=T1))
        start = threading.Barrier(claimers, timeout=THREAD_JOIN)
        finished = _threads(claimer, claimers) and finished
        if not finished:
            return [(f"threads writing to one SqliteStore did not finish within "
                     f"{THREAD_JOIN:g} s (a lock never released?)")]
        fresh = lab.SqliteStore(path)
        lengths = [len(getattr(fresh.get(f"task-shard-{n}"), "messages", ()))
                   for n in range(writers)]
        claimed = fresh.get("task-reindex")
        _close(fresh)
        _close(store)
    state = getattr(getattr(claimed, "state", None), "value", None)
    shown.append(f"{writers} threads x {saves} saves: each task read back at its last save; "
                 f"{claimers} threads claiming one task: {sum(claims)} won")
    if errors:
        return [(f"{writers} threads saving at once: {errors[0]} (one connection per thread, "
                 "WAL and a busy timeout)")]
    if lengths != [saves] * writers:
        return [(f"{writers} threads each saving their task {saves} times: a fresh store read "
                 f"back {lengths} messages; expected each task's last save, {saves}")]
    if sum(claims) != 1 or state != "running":
        return [(f"{claimers} threads claiming one pending task with compare_and_set: "
                 f"{sum(claims)} won, the task is {state}; expected exactly 1 winner")]
    return []


def sqlite_store(lab: ModuleType | None = None) -> bool:
    """The ``SqliteStore`` keeps the store contract: tasks round-trip through a fresh store
    in another process; a file that is not a database raises StoreCorrupted naming it and
    is left as it was; threads saving at once lose no update, and of several threads
    claiming one task, one wins."""
    lab = _lab(lab)
    problems = _round_trip(lab, "SqliteStore", "tasks.db")
    label = "a JSON store file opened as a database"
    problems += _observed(label, lambda: _refuses_bad_file(lab, "SqliteStore", "tasks.db",
                                                           _good_file(), label))
    concurrency: list[str] = []
    problems += _observed("threads on one SqliteStore",
                          lambda: _concurrent_writers(lab, concurrency))
    return verdict(
        "sqlite-store", problems,
        "3 tasks read back whole by a fresh SqliteStore in another process; a JSON file "
        f"opened as a database: StoreCorrupted naming it, left as it was; {''.join(concurrency)}",
    )


# -- lab04.kill-9-resume ---------------------------------------------------------------------


@dataclass
class Trial:
    """What one trial of the rollout in real processes showed: how each process ended,
    the events of the run (when it was not killed), the world's side effects by the
    server's journal, and the task as the store kept it."""

    lives: list[str]
    events: list[str]
    deployed: list[str]
    side_effects: dict[str, int]
    final: Outcome


def _trial(lab: ModuleType, folder: Path, at: int | None) -> Trial:
    """The rollout in a child process killed with SIGKILL at event ``at`` (never, if None),
    then resumed in a fresh one, with its files in ``folder``."""
    folder.mkdir()
    path, journal, record = folder / "tasks.json", folder / "server.jsonl", folder / "events"
    store = lab.JsonFileStore(path)
    store.save(Task(id=ROLLOUT, user_input=GOAL, created_at=T1, updated_at=T1))

    def life(crash_at: int | None) -> None:
        plan = CrashPlan(crash_at, how="kill")
        try:
            with FrozenClock() as clock, GuardedLLM(SCRIPT, clock=clock, by_turn=True,
                                                   before_reply=plan.before_reply) as llm:
                tools = DevOpsTools(journal=journal, after_effect=plan.after_effect)
                lab.resume_task(lab.JsonFileStore(path), ROLLOUT, llm.client(max_retries=0),
                                tools, now=clock.now)
        finally:
            record.write_text("\n".join(plan.events))

    lives = [_in_child(lambda: life(at))]
    if at is not None:
        lives.append(_in_child(lambda: life(None)))
    world = DevOpsTools(journal=journal) if journal.exists() else DevOpsTools()
    events = record.read_text().split("\n") if at is None and record.exists() else []
    final = _attempt(lambda: lab.JsonFileStore(path).get(ROLLOUT))
    return Trial([_ended(ending) for ending in lives], events,
                 list(world.deployed), world.side_effects(), final)


def _where(at: int | None, events: list[str]) -> str:
    if at is None:
        return "the rollout in a child process, not killed"
    return (f"killed with SIGKILL at event {at} of {len(events)} ({events[at - 1]}), then "
            "resumed in a fresh process")


def _trial_problem(lab: ModuleType, root: Path, at: int | None,
                   events: list[str]) -> tuple[list[str], str]:
    """Run one trial; the events of the run when ``at`` is None, and what is wrong, or ''."""
    where = _where(at, events)
    seen = _attempt(lambda: _trial(lab, root / f"trial-{at or 0}", at))
    if seen.error is not None:
        return [], f"{where}: {seen.describe()}"
    trial: Trial = seen.value
    final = trial.final.value
    state = getattr(final, "state", None)
    ended = (getattr(state, "value", state), getattr(final, "result", None))
    expected = ["exited with status 0"] if at is None else \
        ["killed by SIGKILL", "exited with status 0"]
    if trial.lives != expected:
        return trial.events, (f"{where}: the processes ended {'; '.join(trial.lives)}; "
                              f"expected {'; '.join(expected)}")
    if trial.deployed != ["billing@5.2.0"] or trial.side_effects != ONCE_EACH:
        return trial.events, (f"{where}: the server saw deploys {trial.deployed} and side "
                              f"effects {trial.side_effects}; expected each exactly once")
    if trial.final.error is not None or ended != ("completed", ANSWER):
        shown = trial.final.describe() if trial.final.error is not None else \
            f"the task was {ended[0]} with result {short(ended[1])}"
        return trial.events, f"{where}: afterwards {shown}; expected completed with {ANSWER!r}"
    return trial.events, ""


def kill_9_resume(lab: ModuleType | None = None) -> bool:
    """The rollout runs in a real child process killed with SIGKILL at each event of an
    uninterrupted run (every reply of the model, every side effect); a fresh process
    resumes it from the ``JsonFileStore``. Every run completes, and the server's journal
    shows every side effect exactly once."""
    lab = _lab(lab)
    with _folder() as root:
        events, problem = _trial_problem(lab, root, None, [])
        if problem:
            return verdict("kill-9-resume", [problem], "")
        problems = [problem for at in range(1, len(events) + 1)
                    if (problem := _trial_problem(lab, root, at, events)[1])]
    effects = sum(1 for event in events if not event.startswith("reply"))
    return verdict(
        "kill-9-resume", problems[:3],
        f"killed with SIGKILL at each of the {len(events)} events ({len(events) - effects} "
        f"replies, {effects} side effects) and resumed in a fresh process: "
        f"{len(events) - len(problems)} of {len(events)} completed, each side effect once "
        "(clean_logs, build_config, apply_deploy)",
    )


#: Every lab 04 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    survives_restart,
    atomic_write,
    corruption_detected,
    resume_completed_noop,
    resume_failed_retries,
    resume_continues,
    sqlite_store,
    kill_9_resume,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 04 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
