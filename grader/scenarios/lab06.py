"""Lab 06 scenarios: one conformance suite for every store, and the checkpointed runner on
a store the grader trusts, failing, resuming, forking, updating and running away."""

from __future__ import annotations

import contextlib
import copy
import importlib
import itertools
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from grader.observe import describe_error, outcome, plain, required, type_name
from grader.scenarios import Registry, fresh_folder
from labs.kit.checkpoints import Checkpoint
from labs.kit.clock import FrozenClock
from labs.kit.fake_llm import FakeLLM, reply
from labs.kit.graph import END, Graph

SCENARIOS = Registry()
T0 = 1_767_258_000.0


def _reducers() -> ModuleType:
    """Lab 05 (the reference one while lab 06 is graded)."""
    return importlib.import_module("labs.lab05_reducers")


def _cp(checkpoint: Any) -> Any:
    """A checkpoint as plain data."""
    if not isinstance(checkpoint, Checkpoint):
        return None if checkpoint is None else {"unserialisable": type_name(checkpoint)}
    return {
        "id": plain(checkpoint.id),
        "thread_id": plain(checkpoint.thread_id),
        "step": plain(checkpoint.step),
        "ran": plain(list(checkpoint.ran)),
        "next": plain(list(checkpoint.next)),
        "state": plain(checkpoint.state),
        "created_at": plain(checkpoint.created_at),
        "parent_id": plain(checkpoint.parent_id),
        "source": plain(checkpoint.metadata.get("source")
                        if isinstance(checkpoint.metadata, dict) else None),
    }


def _cps(checkpoints: Any) -> Any:
    return [_cp(c) for c in checkpoints] if isinstance(checkpoints, list) else plain(checkpoints)


def _raised(error: BaseException, lab: ModuleType, where: str | None = None) -> dict[str, Any]:
    seen = describe_error(error)
    seen["is_not_found"] = isinstance(error, lab.CheckpointNotFound)
    seen["is_corrupted"] = isinstance(error, lab.CheckpointCorrupted)
    if where is not None:
        seen["names_where"] = where in seen["message"]
    return seen


def _draft(thread: str, step: int, state: dict[str, Any], created_at: float = T0,
           parent: str | None = None) -> Checkpoint:
    return Checkpoint(thread_id=thread, step=step, ran=("node",) if step else (),
                      next=("node",), state=state, created_at=created_at, parent_id=parent)


# -- one conformance suite, for every store -----------------------------------------------


def _contract(lab: ModuleType, make: Callable[[], Any]) -> dict[str, Any]:
    """The store contract: copies, ids, order, threads, delete and clear."""
    store = required(make)
    seen: dict[str, Any] = {}
    describe = lambda e: _raised(e, lab)  # noqa: E731
    # The store is fresh: its first ids are the first values of its counter.
    seen["counter"] = outcome(
        lambda: [store.save(_draft("counter", n, {"n": n})) for n in range(3)], describe=describe)

    def copies() -> dict[str, Any]:
        state = {"log": ["triage"], "facts": {"disk": [97]}}
        saved = store.save(_draft("copies", 0, state))
        state["log"].append("changed after the save")
        state["facts"]["disk"].append(12)
        first = store.load(saved)
        loaded = _cp(first)
        first.state["log"].append("changed after the load")
        listed = store.list("copies")
        if listed:
            listed[0].state["facts"]["disk"].clear()
        latest = store.latest("copies")
        if latest is not None:
            latest.state["log"].clear()
        return {"saved_id": plain(saved), "first": loaded, "again": _cp(store.load(saved))}

    seen["copies"] = outcome(copies, describe=describe)

    def ids() -> dict[str, Any]:
        saved = []
        threads = ["alpha", "beta", "alpha", "alpha", "beta", "alpha"] * 2  # past ten ids
        for n, thread in enumerate(threads):
            saved.append(store.save(_draft(thread, n, {"n": n}, created_at=T0)))
        late = store.save(_draft("alpha", 9, {"n": 9}, created_at=T0 - 3600))  # an earlier time
        saved.append(late)
        return {"ids": plain(saved), "latest_alpha": _cp(store.latest("alpha")),
                "latest_beta": _cp(store.latest("beta"))}

    seen["ids"] = outcome(ids, describe=describe)

    def history() -> dict[str, Any]:
        made = {thread: [] for thread in ("ops-1", "ops-2")}
        for n, thread in enumerate(["ops-1", "ops-2", "ops-1", "ops-1", "ops-2", "ops-1",
                                    "ops-1"]):
            made[thread].append(store.save(_draft(thread, n, {"n": n})))
        one = made["ops-1"]
        result = {
            "made": plain(made),
            "all": [c.id for c in store.list("ops-1")],
            "limit_2": [c.id for c in store.list("ops-1", limit=2)],
            "before_4th": [c.id for c in store.list("ops-1", before=one[3])],
            "before_4th_limit_1": [c.id for c in store.list("ops-1", before=one[3], limit=1)],
            "other_thread": [c.id for c in store.list("ops-2")],
            "unknown_thread": [c.id for c in store.list("ops-404")],
            "latest_unknown": _cp(store.latest("ops-404")),
        }
        store.delete(one[1])
        result["after_delete"] = [c.id for c in store.list("ops-1")]
        result["load_deleted"] = outcome(lambda: store.load(one[1]), keep=_cp,
                                         describe=describe)
        store.clear("ops-1")
        result["after_clear"] = [c.id for c in store.list("ops-1")]
        result["latest_after_clear"] = _cp(store.latest("ops-1"))
        result["other_after_clear"] = [c.id for c in store.list("ops-2")]
        return plain(result)

    seen["history"] = outcome(history, describe=describe)
    seen["load_unknown"] = outcome(lambda: store.load("0" * 12 + "999"), keep=_cp,
                                   describe=describe)
    return seen


def _folder() -> Path:
    return fresh_folder("checkpoints")


@SCENARIOS.scenario
def memory_store(lab: ModuleType) -> dict[str, Any]:
    """The conformance suite on the memory store."""
    return _contract(lab, lambda: lab.MemoryCheckpointStore())


def _durable(lab: ModuleType, kind: str) -> dict[str, Any]:
    folder = _folder()
    path = folder / ("checkpoints" if kind == "file" else "checkpoints.db")
    make = (lambda: lab.FileCheckpointStore(path)) if kind == "file" else \
        (lambda: lab.SqliteCheckpointStore(path))
    seen = _contract(lab, make)

    def reopened() -> dict[str, Any]:
        first = make()
        ids = [first.save(_draft("durable", n, {"n": n, "text": "déjà ✓"})) for n in range(3)]
        _close(first)
        second = make()
        found = [_cp(c) for c in second.list("durable")]
        later = second.save(_draft("durable", 3, {"n": 3}))
        result = {"ids": ids, "found": found, "later": plain(later),
                  "latest": _cp(second.latest("durable"))}
        _close(second)
        return result

    seen["reopened"] = outcome(reopened, describe=lambda e: _raised(e, lab))
    seen["corrupted"] = _corrupt(lab, kind, make, path)
    if kind == "file":
        seen["atomic"] = _atomic_writes(lab)
    else:
        seen["connections"] = outcome(lambda: _connections(lab, _folder() / "threads.db"),
                                      describe=lambda e: _raised(e, lab))
    return seen


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _corrupt(lab: ModuleType, kind: str, make: Callable[[], Any], path: Path) -> dict[str, Any]:
    """Garble one stored checkpoint behind the store's back; then read it."""

    def garble() -> dict[str, Any]:
        store = make()
        good = store.save(_draft("garbled", 0, {"fine": True}))
        before = _files_under(path) if kind == "file" else {}
        bad = store.save(_draft("garbled", 1, {"fine": False}))
        _close(store)
        if kind == "file":
            target = _file_saved(before, _files_under(path), bad)
            if target is not None:
                target.write_text('{"id": "' + bad + '", "thread_id": "garbled", "st')
            where = str(target) if target is not None else str(path)
        else:
            _garble_last_row(path, keep={"garbled", bad})
            where = str(path)
        store = make()
        result = {
            "load": outcome(lambda: store.load(bad), keep=_cp,
                            describe=lambda e: _raised(e, lab, where)),
            "latest": outcome(lambda: store.latest("garbled"), keep=_cp,
                              describe=lambda e: _raised(e, lab, where)),
            "good": outcome(lambda: store.load(good), keep=_cp,
                            describe=lambda e: _raised(e, lab, where)),
        }
        _close(store)
        return result

    seen = outcome(garble, describe=lambda e: _raised(e, lab))
    if kind == "sqlite":
        junk = _folder() / "not-a-database.db"
        junk.write_bytes(b"this is not a SQLite database\n" * 100)
        seen["not_a_database"] = outcome(
            lambda: lab.SqliteCheckpointStore(junk).latest("any"), keep=_cp,
            describe=lambda e: _raised(e, lab, str(junk)))
    return seen


def _atomic_writes(lab: ModuleType) -> dict[str, Any]:
    """The file store's writes: whether every ``os.replace`` (or ``os.rename``) of two saves
    moves a file from inside the store's folder, and into it; then a save whose
    ``os.replace`` fails, as on a full disk."""
    folder = _folder() / "checkpoints"
    moves: list[dict[str, Any]] = []

    def watched(real: Callable[..., Any]) -> Callable[..., Any]:
        def move(source: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
            done = real(source, target, *args, **kwargs)
            try:
                source_path = Path(os.path.abspath(os.fsdecode(source)))
                target_path = Path(os.path.abspath(os.fsdecode(target)))
                moves.append({
                    "from_the_store": folder in source_path.parents,
                    "into_the_store": folder in target_path.parents,
                    "checkpoint": target_path.is_file() and b"atomic-7f3a" in target_path.read_bytes(),
                })
            except (TypeError, ValueError, OSError):
                moves.append({"from_the_store": None, "into_the_store": None, "checkpoint": None})
            return done

        return move

    def saves() -> list[str]:
        store = lab.FileCheckpointStore(folder)
        with mock.patch("os.replace", watched(os.replace)), \
                mock.patch("os.rename", watched(os.rename)):
            return [store.save(_draft("atomic", n, {"marker": "atomic-7f3a", "n": n}))
                    for n in range(2)]

    seen: dict[str, Any] = {"saves": outcome(saves, describe=lambda e: _raised(e, lab))}
    seen["moves"] = moves

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    def full_disk() -> dict[str, Any]:
        store = lab.FileCheckpointStore(folder)
        with mock.patch("os.replace", refuse), mock.patch("os.rename", refuse):
            saved = outcome(lambda: store.save(_draft("full-disk", 0, {"n": 0})),
                            describe=lambda e: _raised(e, lab))
        if "returned" in saved:
            saved["load"] = outcome(lambda: store.load(saved["returned"]), keep=_cp,
                                    describe=lambda e: _raised(e, lab))
        return saved

    seen["full_disk"] = outcome(full_disk, keep=lambda kept: kept,
                                describe=lambda e: _raised(e, lab))
    return seen


def _connections(lab: ModuleType, path: Path) -> dict[str, Any]:
    """The SQLite store used from the main thread and from two threads in turn, then closed
    from the main thread: every connection it opened (seen through ``sqlite3.connect``), and
    what the database says of its journal mode and indexes."""
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        connection = real_connect(*args, **kwargs)
        opened.append(connection)
        return connection

    def describe(error: BaseException) -> dict[str, Any]:
        seen = _raised(error, lab)  # sqlite3 names threads by their ident: not reproducible
        seen["message"] = re.sub(r"\d{5,}", "<ident>", seen["message"])
        return seen

    threads = {"main": None, "worker-1": None, "worker-2": None}
    with mock.patch("sqlite3.connect", connect):
        store = required(lambda: lab.SqliteCheckpointStore(path))
        threads["main"] = outcome(lambda: store.save(_draft("main", 0, {"n": 0})),
                                  describe=describe)

        def work(name: str) -> None:
            def use() -> Any:
                saved = store.save(_draft(name, 0, {"n": 0}))
                return [saved, [c.id for c in store.list(name)]]

            threads[name] = outcome(use, describe=describe)

        for name in ("worker-1", "worker-2"):
            worker = threading.Thread(target=work, args=(name,))
            worker.start()
            worker.join()
        closed = outcome(store.close, describe=describe)
    mode, indexed = None, {"thread_column": False, "thread_indexed": False}
    try:
        with contextlib.closing(real_connect(path)) as db:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            indexed = _thread_index(db, set(threads))
    except sqlite3.Error:  # not a database the grader can read: the rest of the suite says so
        pass
    return {
        "threads": threads,
        "close": closed,
        "opened": len(opened),
        "still_open": sum(_still_open(connection) for connection in opened),
        "journal_mode": plain(mode),
        **indexed,
    }


def _still_open(connection: sqlite3.Connection) -> bool:
    """The connection still answers (a closed one says it is closed)."""
    try:
        sqlite3.Connection.execute(connection, "SELECT 1")
    except sqlite3.ProgrammingError as error:
        return "closed" not in BaseException.__str__(error)
    except sqlite3.Error:
        return True
    return True


def _thread_index(db: sqlite3.Connection, threads: set[str]) -> dict[str, bool]:
    """Whether a table has a column holding the thread ids (whatever it is called), and an
    index (or a primary key) whose first column is that one."""
    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    found = {"thread_column": False, "thread_indexed": False}
    tables = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({quoted(table)})")]
        rows = db.execute(f"SELECT * FROM {quoted(table)}").fetchall()
        holding = {name for index, name in enumerate(columns)
                   if rows and all(row[index] in threads for row in rows)}
        if not holding:
            continue
        found["thread_column"] = True
        for index_row in db.execute(f"PRAGMA index_list({quoted(table)})").fetchall():
            first = [row[2] for row in db.execute(f"PRAGMA index_info({quoted(index_row[1])})")
                     if row[0] == 0]
            if first and first[0] in holding:
                found["thread_indexed"] = True
    return found


def _files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _file_saved(before: dict[Path, bytes], after: dict[Path, bytes], saved: str) -> Path | None:
    """The file a save wrote its checkpoint to, whatever the store names it: a file that
    was not there before and holds the checkpoint's state (else one named after its id)."""
    new = sorted(p for p in after if p not in before)
    for path in new:
        if b'"fine"' in after[path]:
            return path
    named = sorted(p for p in after if saved in p.name)
    if named:
        return named[0]
    return new[0] if new else None


def _garble_last_row(database: Path, keep: set[str]) -> None:
    """Overwrite the payload of the newest row of every table: each text or blob column
    except those holding a value of ``keep`` (the thread id, the checkpoint id), so that
    the row is still found and no longer parses, whatever the columns are called."""
    with sqlite3.connect(database) as db:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            try:
                cursor = db.execute(f'SELECT * FROM "{table}" ORDER BY rowid DESC LIMIT 1')
                row = cursor.fetchone()
            except sqlite3.Error:  # a WITHOUT ROWID table: left as it is
                continue
            if row is None:
                continue
            names = [column[0] for column in cursor.description]
            for name, value in zip(names, row):
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, str) and value not in keep:
                    try:
                        db.execute(f'UPDATE "{table}" SET "{name}" = ? WHERE rowid = '
                                   f'(SELECT MAX(rowid) FROM "{table}")', ("garbled ⛔",))
                    except sqlite3.Error:
                        continue


@SCENARIOS.scenario
def file_store(lab: ModuleType) -> dict[str, Any]:
    """The conformance suite on the file store; reopened; a garbled file."""
    return _durable(lab, "file")


@SCENARIOS.scenario
def sqlite_store(lab: ModuleType) -> dict[str, Any]:
    """The conformance suite on the SQLite store; reopened; a garbled row; not a database."""
    return _durable(lab, "sqlite")


# -- the runner, on a store the grader trusts ---------------------------------------------


class _TrustedStore:
    """The store contract, kept by the grader: copies in, copies out, counter ids."""

    def __init__(self) -> None:
        self.saved: dict[str, Checkpoint] = {}
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def save(self, checkpoint: Checkpoint) -> str:
        with self._lock:
            checkpoint_id = f"{next(self._count):012d}"
            self.saved[checkpoint_id] = replace(copy.deepcopy(checkpoint), id=checkpoint_id)
            return checkpoint_id

    def load(self, checkpoint_id: str) -> Checkpoint:
        with self._lock:
            if checkpoint_id not in self.saved:
                raise KeyError(f"no checkpoint {checkpoint_id!r}")
            return copy.deepcopy(self.saved[checkpoint_id])

    def latest(self, thread_id: str) -> Checkpoint | None:
        found = self.list(thread_id, limit=1)
        return found[0] if found else None

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        with self._lock:
            ids = sorted((i for i, c in self.saved.items() if c.thread_id == thread_id
                          and (before is None or i < before)), reverse=True)
            return [copy.deepcopy(self.saved[i]) for i in ids[:limit]]

    def delete(self, checkpoint_id: str) -> None:
        with self._lock:
            self.saved.pop(checkpoint_id, None)

    def clear(self, thread_id: str) -> None:
        with self._lock:
            for i in [i for i, c in self.saved.items() if c.thread_id == thread_id]:
                del self.saved[i]

    def all(self) -> list[dict[str, Any]]:
        """Every checkpoint, oldest first, as plain data."""
        return [_cp(self.saved[i]) for i in sorted(self.saved)]


def _runner(lab: ModuleType, graph: Graph, schema: Any, store: Any,
            clock: FrozenClock) -> Any:
    return required(lambda: lab.CheckpointedGraph(graph, schema, store, clock=clock.now))


def _incident_graph(clock: FrozenClock, calls: dict[str, int]) -> tuple[Graph, Any]:
    """triage, then two checks side by side, then a report; each node takes its time."""
    lab05 = _reducers()

    def node(name: str, seconds: float, patch: dict[str, Any]) -> Callable[..., Any]:
        def run(state: dict[str, Any]) -> dict[str, Any]:
            calls[name] = calls.get(name, 0) + 1
            clock.advance(seconds)
            return patch

        return run

    graph = (Graph()
             .add_node("triage", node("triage", 4.0, {"log": ["triage"], "severity": "high"}))
             .add_node("check_disk", node("check_disk", 7.0, {"log": ["disk 97%"]}))
             .add_node("check_status", node("check_status", 3.0, {"log": ["web up"]}))
             .add_node("report", node("report", 2.0, {"log": ["report"], "done": True}))
             .add_edge("triage", "check_disk").add_edge("triage", "check_status")
             .add_edge("check_disk", "report").add_edge("check_status", "report")
             .set_entry("triage"))
    schema = lab05.StateSchema().register("log", lab05.append)
    return graph, schema


@SCENARIOS.scenario
def per_step(lab: ModuleType) -> dict[str, Any]:
    """A three-step incident run on a moving clock; its checkpoints."""
    calls: dict[str, int] = {}
    with FrozenClock() as clock:
        graph, schema = _incident_graph(clock, calls)
        store = _TrustedStore()
        runner = _runner(lab, graph, schema, store, clock)
        seen = outcome(lambda: runner.run("incident-7", {"log": []}),
                       describe=lambda e: _raised(e, lab))
        seen.update(t0=clock.start.timestamp(), checkpoints=store.all(), calls=calls)
        history = outcome(lambda: runner.history("incident-7"), keep=_cps,
                          describe=lambda e: _raised(e, lab))
        seen["history"] = history
        ids = [c["id"] for c in seen["checkpoints"]]
        seen["history_limit_2"] = outcome(lambda: runner.history("incident-7", limit=2),
                                          keep=_cps, describe=lambda e: _raised(e, lab))
        if len(ids) >= 3:
            seen["history_before_3rd"] = outcome(
                lambda: runner.history("incident-7", before=ids[2]), keep=_cps,
                describe=lambda e: _raised(e, lab))
    return seen


@SCENARIOS.scenario
def resume_after_failure(lab: ModuleType) -> dict[str, Any]:
    """ask (an LLM request) → apply (fails the first time) → verify; run, then resume,
    then resume once more."""
    lab05 = _reducers()
    calls: dict[str, int] = {}
    with FrozenClock() as clock, FakeLLM([reply("apply web 2.4.1"), reply("unexpected")],
                                         clock=clock) as llm:
        client = llm.client(max_retries=0)

        def ask(state: dict[str, Any]) -> dict[str, Any]:
            calls["ask"] = calls.get("ask", 0) + 1
            answer = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "next step?"}])
            return {"log": [answer.choices[0].message.content]}

        def apply(state: dict[str, Any]) -> dict[str, Any]:
            calls["apply"] = calls.get("apply", 0) + 1
            if calls["apply"] == 1:
                raise RuntimeError("the deploy API answered 503")
            return {"log": ["applied"]}

        def verify(state: dict[str, Any]) -> dict[str, Any]:
            calls["verify"] = calls.get("verify", 0) + 1
            return {"log": ["verified"]}

        graph = (Graph().add_node("ask", ask).add_node("apply", apply)
                 .add_node("verify", verify).add_edge("ask", "apply")
                 .add_edge("apply", "verify").set_entry("ask"))
        schema = lab05.StateSchema().register("log", lab05.append)
        store = _TrustedStore()
        runner = _runner(lab, graph, schema, store, clock)
        first = outcome(lambda: runner.run("deploy-9", {"log": []}),
                        describe=lambda e: _raised(e, lab))
        saved_after_failure = store.all()
        resumed = outcome(lambda: runner.resume("deploy-9"), describe=lambda e: _raised(e, lab))
        calls_after_resume = dict(calls)
        again = outcome(lambda: runner.resume("deploy-9"), describe=lambda e: _raised(e, lab))
        unknown = outcome(lambda: runner.resume("deploy-404"),
                          describe=lambda e: _raised(e, lab))
        return {
            "first": first,
            "saved_after_failure": saved_after_failure,
            "resumed": resumed,
            "calls_after_resume": calls_after_resume,
            "again": again,
            "calls": dict(calls),
            "llm_requests": len(llm.requests),
            "checkpoints": store.all(),
            "unknown_thread": unknown,
        }


def _polling_graph(counter: dict[str, int], polls: int) -> tuple[Graph, Any]:
    """One node that polls, step after step, until it has polled ``polls`` times."""
    lab05 = _reducers()

    def poll(state: dict[str, Any]) -> dict[str, Any]:
        counter["poll"] = counter.get("poll", 0) + 1
        return {"polls": counter["poll"]}

    graph = (Graph().add_node("poll", poll)
             .add_conditional_edges("poll", lambda s: END if s.get("polls", 0) >= polls else "poll",
                                    ["poll", END])
             .set_entry("poll"))
    return graph, lab05.StateSchema()


@SCENARIOS.scenario
def step_limit(lab: ModuleType) -> dict[str, Any]:
    """A graph that would poll 40 times, run with the default step limit; one that polls 5
    times, run with ``max_steps=5``."""
    with FrozenClock() as clock:
        return {"default_limit": _run_polling(lab, clock, polls=40, limit=None),
                "exact_limit": _run_polling(lab, clock, polls=5, limit=5)}


def _run_polling(lab: ModuleType, clock: FrozenClock, *, polls: int,
                 limit: int | None) -> dict[str, Any]:
    counter: dict[str, int] = {}
    graph, schema = _polling_graph(counter, polls)
    store = _TrustedStore()
    extra = {} if limit is None else {"max_steps": limit}
    runner = required(lambda: lab.CheckpointedGraph(graph, schema, store, clock=clock.now,
                                                    **extra))

    def describe(error: BaseException) -> dict[str, Any]:
        return {**_raised(error, lab), "is_recursion": isinstance(error, RecursionError)}

    run = outcome(lambda: runner.run(f"poll-{polls}", {}), describe=describe)
    run.update(steps=[c["step"] for c in store.all()], polls=counter.get("poll", 0))
    return run


def _counting_graph(counter: dict[str, int]) -> tuple[Graph, Any]:
    """plan → build → ship, each logging how many times it has run."""
    lab05 = _reducers()

    def node(name: str) -> Callable[..., Any]:
        def run(state: dict[str, Any]) -> dict[str, Any]:
            counter[name] = counter.get(name, 0) + 1
            return {"log": [f"{name} #{counter[name]}"], "last": name}

        return run

    graph = (Graph().add_node("plan", node("plan")).add_node("build", node("build"))
             .add_node("ship", node("ship")).add_edge("plan", "build")
             .add_edge("build", "ship").set_entry("plan"))
    return graph, lab05.StateSchema().register("log", lab05.append)


@SCENARIOS.scenario
def frozen_ids(lab: ModuleType) -> dict[str, Any]:
    """A whole run on the memory store while the clock stands still: every checkpoint has
    the same time."""
    counter: dict[str, int] = {}
    with FrozenClock() as clock:
        graph, schema = _counting_graph(counter)
        store = required(lambda: lab.MemoryCheckpointStore())
        runner = _runner(lab, graph, schema, store, clock)
        seen = outcome(lambda: runner.run("frozen", {"log": []}),
                       describe=lambda e: _raised(e, lab))
        seen["latest"] = outcome(lambda: store.latest("frozen"), keep=_cp,
                                 describe=lambda e: _raised(e, lab))
        seen["history"] = outcome(lambda: store.list("frozen"), keep=_cps,
                                  describe=lambda e: _raised(e, lab))
    return seen


@SCENARIOS.scenario
def fork(lab: ModuleType) -> dict[str, Any]:
    """A run to its end; then going on again from its step 1 checkpoint."""
    counter: dict[str, int] = {}
    with FrozenClock() as clock:
        graph, schema = _counting_graph(counter)
        store = _TrustedStore()
        runner = _runner(lab, graph, schema, store, clock)
        first = outcome(lambda: runner.run("release-3", {"log": []}),
                        describe=lambda e: _raised(e, lab))
        before = store.all()
        step_one = next((c["id"] for c in before if c["step"] == 1), None)
        clock.advance(60.0)
        forked = outcome(lambda: runner.resume_from(step_one),
                         describe=lambda e: _raised(e, lab))
        return {
            "first": first,
            "before": before,
            "from": step_one,
            "forked": forked,
            "after": store.all(),
            "latest": _cp(store.latest("release-3")),
            "counter": dict(counter),
        }


@SCENARIOS.scenario
def update(lab: ModuleType) -> dict[str, Any]:
    """A run to its end; the state at step 2 updated; the thread resumed from there."""
    counter: dict[str, int] = {}
    with FrozenClock() as clock:
        graph, schema = _counting_graph(counter)
        store = _TrustedStore()
        runner = _runner(lab, graph, schema, store, clock)
        first = outcome(lambda: runner.run("release-4", {"log": ["start"]}),
                        describe=lambda e: _raised(e, lab))
        before = store.all()
        step_two = next((c["id"] for c in before if c["step"] == 2), None)
        updated = outcome(lambda: runner.update_state(step_two, {"log": ["operator: hold"],
                                                                 "last": "operator"}),
                          describe=lambda e: _raised(e, lab))
        after_update = store.all()
        resumed = outcome(lambda: runner.resume("release-4"), describe=lambda e: _raised(e, lab))
        return {
            "first": first,
            "before": before,
            "at": step_two,
            "updated": updated,
            "after_update": after_update,
            "resumed": resumed,
            "after_resume": store.all(),
        }


@SCENARIOS.scenario
def ephemeral(lab: ModuleType) -> dict[str, Any]:
    """A run whose every step writes an ephemeral note that routing reads; then an update
    that tries to store one."""
    lab05 = _reducers()
    with FrozenClock() as clock:

        def scan(state: dict[str, Any]) -> dict[str, Any]:
            return {"note": "disk 97%: clean", "log": ["scan"]}

        def clean(state: dict[str, Any]) -> dict[str, Any]:
            return {"note": "cleaned", "log": ["clean"]}

        graph = (Graph().add_node("scan", scan).add_node("clean", clean)
                 .add_conditional_edges("scan", lambda s: "clean" if s.get("note") else END,
                                        ["clean", END])
                 .set_entry("scan"))
        schema = (lab05.StateSchema().register("log", lab05.append)
                  .register("note", ephemeral=True))
        store = _TrustedStore()
        runner = _runner(lab, graph, schema, store, clock)
        run = outcome(lambda: runner.run("scan-1", {"log": [], "note": "from the input"}),
                      describe=lambda e: _raised(e, lab))
        last = store.all()[-1]["id"] if store.saved else None
        updated = outcome(lambda: runner.update_state(last, {"note": "operator scribble",
                                                             "log": ["operator"]}),
                          describe=lambda e: _raised(e, lab))
        return {"run": run, "updated": updated, "checkpoints": store.all()}
