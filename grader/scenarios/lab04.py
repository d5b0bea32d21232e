"""Lab 04 scenarios: stores on disk, failed and killed saves, corrupted files, resume, and
an agent killed with SIGKILL at every step of a deploy."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import resource
import signal
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from grader.observe import describe_error, not_implemented, outcome, plain, required, type_name
from grader.scenarios import Registry, fresh_folder, warm_up
from labs.kit.agent import start_messages
from labs.kit.clock import FrozenClock
from labs.kit.crash import Crash, CrashPlan, in_child_process
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import FakeLLM, Step, reply, tool_call
from labs.kit.tasks import MemoryTaskStore, Task, TaskState

SCENARIOS = Registry()
warm_up()
STORES = {"json": "JsonFileStore", "sqlite": "SqliteStore"}
GOAL = "Deploy web 2.4.1 to production and make sure it is healthy."
WEB, RELEASE = {"service": "web"}, {"service": "web", "version": "2.4.1"}
#: The model's side of the deploy, turn by turn (a turn's reply depends only on how many
#: assistant messages the conversation holds, as with a deterministic model).
DEPLOY: tuple[Step, ...] = (
    reply(tool_calls=[tool_call("check_status", WEB, id="call_st")]),
    reply(tool_calls=[tool_call("build_config", RELEASE, id="call_bc")]),
    reply(tool_calls=[tool_call("apply_deploy", RELEASE, id="call_ap")]),
    reply(tool_calls=[tool_call("verify", WEB, id="call_vf")]),
    reply("web 2.4.1 is deployed and healthy"),
)
#: Real seconds one agent process may take before it counts as hung.
CHILD_LIMIT = 8.0


def _folder() -> Path:
    return fresh_folder("store")


def _store(lab: ModuleType, kind: str, path: Path) -> Any:
    return required(lambda: getattr(lab, STORES[kind])(path))


def _in_child(work: Callable[[], Any]) -> str:
    """How ``work`` ended in a child process; a stub's NotImplementedError there aborts
    the scenario as it would here."""
    ending = in_child_process(work, limit=CHILD_LIMIT)
    prefix = "NotImplementedError: "
    if ending.error is not None and ending.error.startswith(prefix):
        raise not_implemented(ending.error[len(prefix):])
    return str(ending)


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _task_data(task: Any) -> Any:
    """A task read back, as data that keeps the types the checks care about."""
    if not isinstance(task, Task):
        return None if task is None else {"unserialisable": type_name(task)}
    return {
        "fields": plain(task.to_dict()) if isinstance(task.state, TaskState) else None,
        "state_type": type_name(task.state),
        "timestamp_types": [type_name(task.created_at), type_name(task.updated_at)],
        "messages_type": type_name(task.messages),
    }


def _raised(error: BaseException, lab: ModuleType, path: Path | None = None) -> dict[str, Any]:
    seen = describe_error(error)
    seen["is_store_corrupted"] = isinstance(error, lab.StoreCorrupted)
    if path is not None:
        seen["names_the_file"] = str(path) in seen["message"]
    return seen


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


# -- tasks worth saving --------------------------------------------------------------------

T0 = 1_767_258_000.123456


def _rich_tasks() -> list[Task]:
    conversation = (
        *start_messages("Déployer web 2.4.1 — vite, s'il vous plaît ✓"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_x1", "type": "function",
             "function": {"name": "apply_deploy",
                          "arguments": '{"service": "web", "version": "2.4.1"}'}}]},
        {"role": "tool", "tool_call_id": "call_x1", "content": "web@2.4.1 applied (deploy #1)"},
        {"role": "assistant", "content": "Done: «web» is on 2.4.1."},
    )
    return [
        Task(id="task-λ-1", user_input=GOAL, state=TaskState.COMPLETED,
             result="Done: «web» is on 2.4.1.", created_at=T0, updated_at=T0 + 600.654321,
             messages=conversation),
        Task(id="task-2", user_input="Clean the logs on db-2", state=TaskState.FAILED,
             error="ToolFailure: db-2 is read-only", created_at=T0 + 1e-6,
             updated_at=T0 + 42.000001, messages=conversation[:3]),
        Task(id="task-3", user_input="Check web", created_at=T0 + 0.5, updated_at=T0 + 0.5),
    ]


@SCENARIOS.scenario
def round_trip(lab: ModuleType) -> dict[str, Any]:
    """Tasks saved by one store, one of them saved again, read back by a fresh store on the
    same path, for each kind of store."""
    seen: dict[str, Any] = {}
    for kind in STORES:
        folder = _folder()
        path = folder / f"tasks.{kind}"
        tasks = _rich_tasks()
        updated = Task(**{**tasks[2].__dict__, "user_input": "Check web, then db-2",
                          "state": TaskState.RUNNING, "updated_at": T0 + 7.25})

        def write() -> None:
            store = _store(lab, kind, path)
            for task in tasks:
                store.save(task)
            store.save(updated)
            _close(store)

        def read() -> dict[str, Any]:
            store = _store(lab, kind, path)
            found = {task.id: _task_data(store.get(task.id)) for task in tasks}
            found["missing"] = _task_data(store.get("task-never-saved"))
            _close(store)
            return found

        seen[kind] = {
            "saved": [t.to_dict() for t in (tasks[0], tasks[1], updated)],
            "write": outcome(write, keep=lambda _: None),
            "read": outcome(read),
        }
    return seen


@SCENARIOS.scenario
def compare_and_set(lab: ModuleType) -> dict[str, Any]:
    """compare_and_set on a task never saved, with the wrong expected state, with the right
    one, then again with the state the task has just left; after each, what a fresh store on
    the same path reads, for each kind of store."""
    seen: dict[str, Any] = {}
    for kind in STORES:
        path = _folder() / f"tasks.{kind}"
        pending = Task(id="task-claim", user_input=GOAL, created_at=T0, updated_at=T0)
        running = Task(**{**pending.__dict__, "state": TaskState.RUNNING,
                          "updated_at": T0 + 1.5})
        completed = Task(**{**pending.__dict__, "state": TaskState.COMPLETED, "result": "done",
                            "updated_at": T0 + 3.0})
        stranger = Task(id="task-stranger", user_input="never saved", state=TaskState.RUNNING,
                        created_at=T0, updated_at=T0)
        store = _store(lab, kind, path)
        required(lambda: store.save(pending))
        _close(store)
        attempts = (("a task never saved", stranger, TaskState.PENDING),
                    ("the wrong expected state", completed, TaskState.RUNNING),
                    ("the right expected state", running, TaskState.PENDING),
                    ("a state the task no longer has", completed, TaskState.PENDING))
        steps = []
        for name, task, expected in attempts:
            def attempt(task: Task = task, expected: TaskState = expected) -> Any:
                store = _store(lab, kind, path)
                try:
                    return store.compare_and_set(task, expected)
                finally:
                    _close(store)

            def read(task: Task = task) -> Any:
                store = _store(lab, kind, path)
                try:
                    return _task_data(store.get(task.id))
                finally:
                    _close(store)

            steps.append({"attempt": name, "task": task.to_dict(), "expected": expected.value,
                          "call": outcome(attempt), "read_back": outcome(read)})
        seen[kind] = {"before": pending.to_dict(), "steps": steps}
    return seen


# -- failed and interrupted saves ----------------------------------------------------------


def _big_task() -> Task:
    """A task whose save needs well over the room a cut-short write leaves."""
    notes = tuple({"role": "tool", "tool_call_id": f"call_{n}", "content": "x" * 2000}
                  for n in range(60))
    return Task(id="task-big", user_input="Collect every log", created_at=T0, updated_at=T0,
                messages=notes)


def _saved_before(lab: ModuleType, kind: str) -> tuple[Path, Task]:
    path = _folder() / f"tasks.{kind}"
    old = Task(id="task-keep", user_input="Keep me", state=TaskState.COMPLETED, result="kept",
               created_at=T0, updated_at=T0 + 1.0)
    store = _store(lab, kind, path)
    required(lambda: store.save(old))
    _close(store)
    return path, old


def _after_failed_save(lab: ModuleType, kind: str, path: Path, old: Task,
                       save: Callable[[], Any]) -> dict[str, Any]:
    """Run ``save``; then what a fresh store reads and what the folder holds."""
    seen = outcome(save, keep=lambda _: None, describe=lambda e: _raised(e, lab))

    def read() -> Any:
        store = _store(lab, kind, path)
        found = _task_data(store.get(old.id))
        _close(store)
        return found

    seen["old"] = old.to_dict()
    seen["read_back"] = outcome(read, describe=lambda e: _raised(e, lab, path))
    seen["files"] = sorted(p.name for p in path.parent.iterdir())
    return seen


@contextmanager
def _failing(*names: str, why: str) -> Iterator[None]:
    """Inside, the ``os`` functions ``names`` raise OSError(why)."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(5, why)

    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(mock.patch(f"os.{name}", refuse))
        yield


def _cut_short_in_a_child(lab: ModuleType, kind: str, path: Path, *, killed: bool) -> str:
    """Save a big task in a child process whose files may not grow much past their size
    now: the write fails half-way (killed by SIGXFSZ, or failing with EFBIG)."""
    limit = max(os.path.getsize(path), 4096) + 512

    def save_big() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL if killed else signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        store = _store(lab, kind, path)
        store.save(_big_task())

    return _in_child(save_big)


@SCENARIOS.scenario
def interrupted_saves(lab: ModuleType) -> dict[str, Any]:
    """Saves that fail at the rename or the sync (the file store), or are cut short by the
    file size limit (an error, or the process killed), for each kind of store."""
    seen: dict[str, Any] = {}
    for kind in STORES:
        path, old = _saved_before(lab, kind)
        newer = Task(**{**old.__dict__, "result": "overwritten", "updated_at": T0 + 2.0})

        def save_while(*names: str, why: str) -> Callable[[], None]:
            def save() -> None:
                store = _store(lab, kind, path)
                with _failing(*names, why=why):
                    store.save(newer)

            return save

        cases = {}
        if kind == "json":  # a database has no rename to fail, and syncs its own way
            cases["rename_fails"] = _after_failed_save(
                lab, kind, path, old, save_while("replace", "rename", why="the rename failed"))
            path, old = _saved_before(lab, kind)
            cases["fsync_fails"] = _after_failed_save(
                lab, kind, path, old, save_while("fsync", "fdatasync", why="the sync failed"))
        for name, killed in (("write_fails", False), ("killed_mid_write", True)):
            path, old = _saved_before(lab, kind)
            ending: list[str] = []
            case = _after_failed_save(
                lab, kind, path, old,
                lambda: ending.append(_cut_short_in_a_child(lab, kind, path, killed=killed)),
            )
            case["child"] = ending[0] if ending else None
            cases[name] = case
        seen[kind] = cases
    return seen


def _file_key(fd: Any) -> tuple[int, int, int] | None:
    """(device, inode, size) of an open regular file, or None (a folder, a bad handle)."""
    try:
        info = os.fstat(fd if isinstance(fd, int) else fd.fileno())
    except (OSError, AttributeError, TypeError, ValueError):
        return None
    return (info.st_dev, info.st_ino, info.st_size) if stat.S_ISREG(info.st_mode) else None


@contextmanager
def _tracing_renames(path: Path) -> Iterator[list[dict[str, Any]]]:
    """Inside, ``os.fsync`` / ``os.fdatasync`` and ``os.replace`` / ``os.rename`` work as
    usual, and each rename is noted: whether it lands on ``path``, whether its source was in
    ``path``'s folder, and whether that very file had been synced with every byte it holds
    (its size when synced is its size now) before the rename."""
    synced: dict[tuple[int, int], int] = {}
    renames: list[dict[str, Any]] = []
    real = {name: getattr(os, name) for name in ("fsync", "fdatasync", "replace", "rename")}
    folder = os.path.realpath(path.parent)

    def sync(name: str) -> Callable[..., Any]:
        def call(fd: Any) -> Any:
            done = real[name](fd)
            key = _file_key(fd)
            if key is not None:
                synced[key[:2]] = key[2]
            return done

        return call

    def rename(name: str) -> Callable[..., Any]:
        def call(source: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
            seen: dict[str, Any] = {"call": f"os.{name}", "onto_the_store": False,
                                    "from_the_folder": False, "synced_whole": False}
            try:
                source_path = os.path.realpath(os.fsdecode(source))
                seen["onto_the_store"] = (os.path.realpath(os.fsdecode(target))
                                          == os.path.realpath(path))
                seen["from_the_folder"] = os.path.dirname(source_path) == folder
                info = os.stat(source_path)
                seen["synced_whole"] = synced.get((info.st_dev, info.st_ino)) == info.st_size
            except (OSError, TypeError, ValueError):
                pass
            renames.append(seen)
            return real[name](source, target, *args, **kwargs)

        return call

    with contextlib.ExitStack() as stack:
        for name in ("fsync", "fdatasync"):
            stack.enter_context(mock.patch(f"os.{name}", sync(name)))
        for name in ("replace", "rename"):
            stack.enter_context(mock.patch(f"os.{name}", rename(name)))
        yield renames


@SCENARIOS.scenario
def save_steps(lab: ModuleType) -> dict[str, Any]:
    """Three saves to the file store, with every rename noted (see :func:`_tracing_renames`)."""
    path = _folder() / "tasks.json"
    tasks = _rich_tasks()

    def save_all() -> None:
        store = _store(lab, "json", path)
        for task in tasks:
            store.save(task)

    with _tracing_renames(path) as renames:
        seen = outcome(save_all, keep=lambda _: None)
    seen["saves"] = len(tasks)
    seen["renames"] = renames
    return seen


# -- corrupted files ----------------------------------------------------------------------


def _corrupt_json_files() -> dict[str, bytes]:
    good = (b'{"format": 1, "tasks": {"task-keep": {"id": "task-keep", "user_input": "Keep me", '
            b'"state": "completed", "result": "kept", "error": null, "created_at": 1.0, '
            b'"updated_at": 2.0, "messages": []}}}')
    return {
        "garbage": b"\x00\x17 not a store at all \xff\xfe",
        "truncated": good[: len(good) // 2],
        "empty": b"",
        "other_format": good.replace(b'"format": 1', b'"format": 99'),
        "bad_state": good.replace(b'"completed"', b'"exploded"'),
    }


def _corruption_case(lab: ModuleType, kind: str, content: bytes | None,
                     make: Callable[[Path], None] | None = None,
                     *, whole_file: bool = True) -> dict[str, Any]:
    """Open a store on a bad file (the file store only), open one and read, then try to
    save another task in it.

    ``whole_file``: the whole file is bad (every save must refuse to touch it); else one
    row of a database is, and only reading that row must fail."""
    path = _folder() / f"tasks.{kind}"
    if make is not None:
        make(path)
    else:
        path.write_bytes(content or b"")
    before = _digest(path)
    seen: dict[str, Any] = {}
    if kind == "json":  # the file store reads its file when it opens; a database need not
        seen["open"] = outcome(lambda: _close(_store(lab, kind, path)), keep=lambda _: None,
                               describe=lambda e: _raised(e, lab, path))

    def open_and_read() -> Any:
        store = _store(lab, kind, path)
        try:
            return _task_data(store.get("task-keep"))
        finally:
            _close(store)

    seen["read"] = outcome(open_and_read, describe=lambda e: _raised(e, lab, path))

    def save() -> None:
        store = _store(lab, kind, path)
        try:
            store.save(Task(id="task-new", user_input="new", created_at=T0, updated_at=T0))
        finally:
            _close(store)

    seen["whole_file"] = whole_file
    if whole_file:
        seen["save"] = outcome(save, keep=lambda _: None,
                               describe=lambda e: _raised(e, lab, path))
        seen["unchanged"] = _digest(path) == before
    return seen


def _sqlite_with_a_bad_row(lab: ModuleType) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import sqlite3

        store = lab.SqliteStore(path)
        store.save(Task(id="task-keep", user_input="Keep me", created_at=T0, updated_at=T0))
        _close(store)
        with sqlite3.connect(path) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
                if "state" in columns:
                    db.execute(f"UPDATE {table} SET state = 'exploded'")

    return make


@SCENARIOS.scenario
def corrupted_files(lab: ModuleType) -> dict[str, Any]:
    """Store files that are garbage, cut short, empty, of another format or holding an
    invalid task; a SQLite file that is not a database, and one with an invalid row."""
    json_cases = {name: _corruption_case(lab, "json", content)
                  for name, content in _corrupt_json_files().items()}
    sqlite_cases = {
        "garbage": _corruption_case(lab, "sqlite", b"this is not a SQLite database\n" * 200),
        "bad_state": _corruption_case(lab, "sqlite", None, _sqlite_with_a_bad_row(lab),
                                      whole_file=False),
    }
    return {"json": json_cases, "sqlite": sqlite_cases}


# -- resume -----------------------------------------------------------------------------


#: The tools as the model is to be offered them, as they reach it (JSON).
OFFERED = json.loads(json.dumps(list(TOOL_SCHEMAS)))


def _resume(lab: ModuleType, store: MemoryTaskStore, task_id: str, tools: DevOpsTools,
            script: tuple[Any, ...], clock: FrozenClock,
            plan: CrashPlan | None = None, *,
            describe: Callable[[BaseException], dict[str, Any]] = describe_error,
            **options: Any) -> dict[str, Any]:
    """``resume_task`` once (``options`` are its keyword arguments besides ``now``); what
    it returned or raised, the turns it asked for, and per request whether it offered the
    kit's tools as they are and which tool replies it carried."""
    with FakeLLM(script, clock=clock, by_turn=True,
                 before_reply=plan.before_reply if plan else None) as llm:
        seen = outcome(lambda: lab.resume_task(store, task_id, llm.client(max_retries=0), tools,
                                               now=clock.now, **options), describe=describe)
        seen["turns"] = [request.turn for request in llm.requests]
        seen["offered"] = [{"tools": [t.get("function", {}).get("name")
                                      for t in request.body.get("tools") or ()
                                      if isinstance(t, dict)],
                            "as_given": request.body.get("tools") == OFFERED}
                           for request in llm.requests]
        seen["replies_sent"] = [[m.get("tool_call_id") for m in request.messages
                                 if isinstance(m, dict) and m.get("role") == "tool"]
                                for request in llm.requests]
    return seen


class _ClockedStore(MemoryTaskStore):
    """A memory store that notes the clock's time at each save, then moves the clock on a
    second: a save stamped with ``now()`` shows it, one stamped with an older time too."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock
        self.times: list[float] = []

    def save(self, task: Task) -> None:
        at = self.clock.now()
        super().save(task)
        self.times.append(at)
        self.clock.advance(1.0)

    def log(self, task_id: str, *, skip: int = 1) -> list[dict[str, Any]]:
        """Each save of ``task_id`` after the first ``skip`` (the scenario's own): its state,
        error, and whether its ``updated_at`` was the clock's time at that save."""
        return [{"state": _state(task), "error": plain(task.error),
                 "stamped_now": task.updated_at == at}
                for task, at in list(zip(self.saves, self.times))[skip:] if task.id == task_id]


def _state(task: Task | None) -> Any:
    return plain(getattr(getattr(task, "state", None), "value", getattr(task, "state", None)))


def _ending(seen: dict[str, Any]) -> dict[str, Any]:
    """The ``returned`` or ``raised`` of an :func:`outcome`, alone."""
    return {key: seen[key] for key in ("returned", "raised") if key in seen}


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool call as ``assistant_message`` saves it."""
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


def _messages_shape(task: Task | None) -> list[Any]:
    if task is None:
        return []
    return [[m.get("role"), m.get("tool_call_id"), m.get("content"),
             [c["id"] for c in m.get("tool_calls") or ()]] for m in task.messages]


@SCENARIOS.scenario
def resume_completed(lab: ModuleType) -> dict[str, Any]:
    """A completed task, resumed."""
    with FrozenClock() as clock:
        store, tools = MemoryTaskStore(), DevOpsTools()
        store.save(Task(id="task-done", user_input=GOAL, state=TaskState.COMPLETED,
                        result="web 2.4.1 went live at 09:06", created_at=T0, updated_at=T0))
        seen = _resume(lab, store, "task-done", tools, DEPLOY, clock)
        seen["tool_runs"] = sum(tools.calls.values())
        seen["saves"] = len(store.saves) - 1
        return seen


@SCENARIOS.scenario
def resume_failed(lab: ModuleType) -> dict[str, Any]:
    """A task that failed after its first tool, resumed."""
    with FrozenClock() as clock:
        store, tools = _ClockedStore(clock), DevOpsTools()
        progress = (*start_messages(GOAL),
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_st", "type": "function",
                         "function": {"name": "check_status", "arguments": '{"service": "web"}'}}]},
                    {"role": "tool", "tool_call_id": "call_st", "content": "web: running, version none"})
        failed = Task(id="task-failed", user_input=GOAL, state=TaskState.FAILED,
                      error="APIConnectionError: Connection error.", created_at=T0,
                      updated_at=T0, messages=progress)
        store.save(failed)
        seen = _resume(lab, store, failed.id, tools, DEPLOY, clock)
        seen["history"] = [[t.state.value, t.error] for t in store.history(failed.id)[1:]]
        seen["saves"] = store.log(failed.id)
        seen["side_effects"] = tools.side_effects()
        return seen


@SCENARIOS.scenario
def resume_breaks(lab: ModuleType) -> dict[str, Any]:
    """A deploy whose build_config tool raises: what resume raised and what it saved; then
    the failed task resumed."""
    with FrozenClock() as clock:
        store, tools = _ClockedStore(clock), DevOpsTools()
        store.save(Task(id="task-breaks", user_input=GOAL, created_at=T0, updated_at=T0))
        tools.fail_next("build_config")
        first = _resume(lab, store, "task-breaks", tools, DEPLOY, clock)
        saves = store.history("task-breaks")
        first["saves"] = store.log("task-breaks")
        first["last_two_messages"] = [_messages_shape(t) for t in saves[-2:]]
        then = _resume(lab, store, "task-breaks", tools, DEPLOY, clock)
        then["final_state"] = _state(store.get("task-breaks"))
        return {"first": first, "then": then, "side_effects": tools.side_effects()}


@SCENARIOS.scenario
def resume_after_interruption(lab: ModuleType) -> dict[str, Any]:
    """The deploy uninterrupted; then cut off as the reply to turn k arrives, for every k,
    and resumed in the same store."""
    seen: dict[str, Any] = {}
    with FrozenClock() as clock:
        store, tools = _ClockedStore(clock), DevOpsTools()
        store.save(Task(id="task-whole", user_input=GOAL, created_at=T0, updated_at=T0))
        whole = _resume(lab, store, "task-whole", tools, DEPLOY, clock)
        seen["whole"] = {**whole, "tool_runs": dict(sorted(tools.calls.items())),
                         "messages": _messages_shape(store.get("task-whole")),
                         "saves": store.log("task-whole")}
        cut = []
        for k in range(1, len(DEPLOY) + 1):
            store, tools = MemoryTaskStore(), DevOpsTools()
            task_id = f"task-cut-{k}"
            store.save(Task(id=task_id, user_input=GOAL, created_at=T0, updated_at=T0))
            first = _resume(lab, store, task_id, tools, DEPLOY, clock, CrashPlan(k, how="raise"))
            then = _resume(lab, store, task_id, tools, DEPLOY, clock)
            final = store.get(task_id)
            cut.append({
                "at": k,
                "first": {"turns": first["turns"], "crashed": "raised" in first
                          and first["raised"]["type"] == type_name(Crash(""))},
                "then": then,
                "tool_runs": dict(sorted(tools.calls.items())),
                "replays": tools.replays,
                "state": plain(getattr(getattr(final, "state", None), "value", None)),
                "messages": _messages_shape(final),
            })
        seen["cut"] = cut
    return seen


@SCENARIOS.scenario
def resume_unknown(lab: ModuleType) -> dict[str, Any]:
    """resume_task on an id no task was saved under."""
    with FrozenClock() as clock:
        store, tools = MemoryTaskStore(), DevOpsTools()
        store.save(Task(id="task-other", user_input=GOAL, created_at=T0, updated_at=T0))
        not_found = getattr(lab, "TaskNotFound", None)

        def describe(error: BaseException) -> dict[str, Any]:
            return {**describe_error(error), "is_task_not_found":
                    isinstance(not_found, type) and isinstance(error, not_found)}

        seen = _resume(lab, store, "task-nobody", tools, DEPLOY, clock, describe=describe)
        seen["tool_runs"] = sum(tools.calls.values())
        seen["saves"] = len(store.saves) - 1
        return seen


#: A model that never gives its answer: it asks for the service's status, turn after turn.
RUNAWAY: tuple[Step, ...] = tuple(
    reply(tool_calls=[tool_call("check_status", WEB, id=f"call_loop{n}")]) for n in range(30)
)


@SCENARIOS.scenario
def resume_runaway(lab: ModuleType) -> dict[str, Any]:
    """A model that never answers: a new task resumed with the default ``max_turns``; a
    task with two turns saved, resumed with ``max_turns=3``."""
    with FrozenClock() as clock:
        seen: dict[str, Any] = {}
        store, tools = MemoryTaskStore(), DevOpsTools()
        store.save(Task(id="task-loop", user_input=GOAL, created_at=T0, updated_at=T0))
        default = _resume(lab, store, "task-loop", tools, RUNAWAY, clock)
        saved = store.get("task-loop")
        seen["default"] = {**_ending(default), "turns": default["turns"],
                           "tool_runs": sum(tools.calls.values()), "state": _state(saved),
                           "error": plain(getattr(saved, "error", None))}
        two_turns = (*start_messages(GOAL),
                     {"role": "assistant", "content": None,
                      "tool_calls": [_call("call_loop0", "check_status", WEB)]},
                     {"role": "tool", "tool_call_id": "call_loop0", "content": "web: running"},
                     {"role": "assistant", "content": None,
                      "tool_calls": [_call("call_loop1", "check_status", WEB)]},
                     {"role": "tool", "tool_call_id": "call_loop1", "content": "web: running"})
        store, tools = MemoryTaskStore(), DevOpsTools()
        store.save(Task(id="task-loop-2", user_input=GOAL, state=TaskState.RUNNING,
                        created_at=T0, updated_at=T0, messages=two_turns))
        three = _resume(lab, store, "task-loop-2", tools, RUNAWAY, clock, max_turns=3)
        seen["three"] = {**_ending(three), "turns": three["turns"],
                         "tool_runs": sum(tools.calls.values())}
        return seen


@SCENARIOS.scenario
def resume_partly_answered(lab: ModuleType) -> dict[str, Any]:
    """A task cut off between the two tool calls of one reply: the first has its tool reply
    saved, the second not."""
    conversation = (*start_messages(GOAL),
                    {"role": "assistant", "content": None,
                     "tool_calls": [_call("call_a", "check_status", WEB),
                                    _call("call_b", "verify", WEB)]},
                    {"role": "tool", "tool_call_id": "call_a",
                     "content": "web: running, version 2.4.1"})
    script = (DEPLOY[0], reply("web 2.4.1 is running and healthy"))
    with FrozenClock() as clock:
        store, tools = MemoryTaskStore(), DevOpsTools()
        store.save(Task(id="task-half", user_input=GOAL, state=TaskState.RUNNING,
                        created_at=T0, updated_at=T0, messages=conversation))
        seen = _resume(lab, store, "task-half", tools, script, clock)
        seen["tool_runs"] = dict(sorted(tools.calls.items()))
        seen["messages"] = _messages_shape(store.get("task-half"))
        return seen


# -- SQLite under threads ---------------------------------------------------------------


@SCENARIOS.scenario
def sqlite_threads(lab: ModuleType) -> dict[str, Any]:
    """Eight threads saving their own task twenty times each, all at once; then eight
    threads claiming one pending task at the same moment."""
    path = _folder() / "tasks.sqlite"
    store = required(lambda: lab.SqliteStore(path))
    errors: list[dict[str, Any]] = []
    claims: list[bool] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for step in range(1, 21):
                messages = tuple({"role": "tool", "tool_call_id": f"c{i}", "content": f"{n}/{i}"}
                                 for i in range(step))
                store.save(Task(id=f"task-w{n}", user_input=f"writer {n}", created_at=T0,
                                updated_at=T0 + step, messages=messages))
        except BaseException as error:  # noqa: BLE001 - reported, not fatal
            errors.append(describe_error(error))

    def claimer(n: int) -> None:
        try:
            start.wait()
            running = Task(id="task-shared", user_input="one of us", state=TaskState.RUNNING,
                           result=f"claimer {n}", created_at=T0, updated_at=T0 + n)
            claims.append(store.compare_and_set(running, TaskState.PENDING) is True)
        except BaseException as error:  # noqa: BLE001
            errors.append(describe_error(error))

    seen: dict[str, Any] = {}
    for phase, target in (("writers", writer), ("claimers", claimer)):
        if phase == "claimers":
            store.save(Task(id="task-shared", user_input="one of us", created_at=T0,
                            updated_at=T0))
            start = threading.Barrier(8)
        threads = [threading.Thread(target=target, args=(n,), daemon=True) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CHILD_LIMIT)
        seen[f"{phase}_hung"] = any(thread.is_alive() for thread in threads)
    fresh = lab.SqliteStore(path)
    seen["writers"] = [len(getattr(fresh.get(f"task-w{n}"), "messages", ())) for n in range(8)]
    shared = fresh.get("task-shared")
    seen["claims_won"] = sum(claims)
    seen["shared_state"] = plain(getattr(getattr(shared, "state", None), "value", None))
    seen["errors"] = errors[:3]
    _close(fresh)
    _close(store)
    return seen


def _open_files(path: Path) -> int | None:
    """How many file descriptors of this process are open on ``path`` or its ``-wal`` and
    ``-shm`` files; None where ``/proc/self/fd`` cannot say."""
    names = {os.path.realpath(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    count = 0
    for fd in fds:
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") in names
    return count


@SCENARIOS.scenario
def sqlite_close(lab: ModuleType) -> dict[str, Any]:
    """A SQLite store used by this thread and by two others (ended by then), then closed:
    the files still open on the database, and the journal mode the database is in.

    The garbage collector is off meanwhile, so that a connection nobody closed stays open
    (as it may, for as long as it likes, in a real program) instead of being closed by a
    collection that happens to run."""
    path = _folder() / "tasks.sqlite"
    seen: dict[str, Any] = {}
    collecting = gc.isenabled()
    gc.disable()
    try:
        store = _store(lab, "sqlite", path)
        required(lambda: store.save(Task(id="task-main", user_input=GOAL, created_at=T0,
                                         updated_at=T0)))
        errors: list[dict[str, Any]] = []

        def use(n: int) -> None:
            try:
                store.save(Task(id=f"task-t{n}", user_input=GOAL, created_at=T0, updated_at=T0))
                store.get("task-main")
            except BaseException as error:  # noqa: BLE001 - reported
                errors.append(describe_error(error))

        threads = [threading.Thread(target=use, args=(n,), daemon=True) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CHILD_LIMIT)
        seen["threads_hung"] = any(thread.is_alive() for thread in threads)
        seen["errors"] = errors[:3]
        seen["open_before"] = _open_files(path)
        seen["close"] = outcome(store.close, keep=lambda _: None)
        seen["open_after"] = _open_files(path)
    finally:
        if collecting:
            gc.enable()
    with contextlib.closing(sqlite3.connect(path)) as db:
        seen["journal_mode"] = plain(db.execute("PRAGMA journal_mode").fetchone()[0])
    return seen


# -- kill -9 ------------------------------------------------------------------------------


def _kill_trials(lab: ModuleType, kind: str) -> dict[str, Any]:
    """The deploy in a child process killed with SIGKILL at event k, then resumed in a
    fresh child, for every event k of an uninterrupted run."""

    def life(path: Path, journal: Path, at: int | None, events: Path | None = None) -> None:
        plan = CrashPlan(at, how="kill")
        with FrozenClock() as clock, FakeLLM(DEPLOY, clock=clock, by_turn=True,
                                               before_reply=plan.before_reply) as llm:
            tools = DevOpsTools(journal=journal, after_effect=plan.after_effect)
            try:
                lab.resume_task(_store(lab, kind, path), "task-deploy", llm.client(max_retries=0),
                                tools, now=clock.now)
            finally:
                if events is not None:
                    events.write_text("\n".join(plan.events))

    def trial(at: int | None) -> dict[str, Any]:
        folder = _folder()
        path, journal, events = folder / f"tasks.{kind}", folder / "world.jsonl", folder / "events"
        store = _store(lab, kind, path)
        required(lambda: store.save(Task(id="task-deploy", user_input=GOAL, created_at=T0,
                                         updated_at=T0)))
        _close(store)
        lives = [_in_child(lambda: life(path, journal, at, events))]
        if at is not None:
            lives.append(_in_child(lambda: life(path, journal, None)))
        world = DevOpsTools(journal=journal)
        final = outcome(lambda: _task_data(_store(lab, kind, path).get("task-deploy")))
        return {
            "at": at,
            "lives": lives,
            "events": events.read_text().split("\n") if events.exists() and at is None else None,
            "deployed": list(world.deployed),
            "side_effects": world.side_effects(),
            "final": final,
        }

    whole = trial(None)
    count = len(whole["events"] or [])
    return {"whole": whole, "killed": [trial(at) for at in range(1, count + 1)]}


@SCENARIOS.scenario
def kill_nine_json(lab: ModuleType) -> dict[str, Any]:
    """SIGKILL at every step of the deploy, on the JSON file store."""
    return _kill_trials(lab, "json")


@SCENARIOS.scenario
def kill_nine_sqlite(lab: ModuleType) -> dict[str, Any]:
    """SIGKILL at every step of the deploy, on the SQLite store."""
    return _kill_trials(lab, "sqlite")
