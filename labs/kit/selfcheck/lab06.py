"""Lab 06's public checks (checkpoints and time travel); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab06 as selfcheck
    selfcheck.resume_latest()     # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()        # every lab 06 check, and a Summary
    selfcheck.conformance(lambda: lab.MemoryCheckpointStore())   # the store contract

The store contract is one suite, :func:`conformance`, run on every store, as LangGraph runs
one suite on all its checkpointers: on the memory store it decides snapshots-isolated,
ids-ordered and history-per-thread; on the file and SQLite stores (each part on a store
opened afresh, then reopened, then with one entry garbled behind the store's back) it
decides durable-stores. Call it on any store of yours: it returns the problems it found.

The runner's checks drive ``CheckpointedGraph`` on your ``MemoryCheckpointStore``, watched
from the outside: every checkpoint the runner hands to ``save`` is noted as it was handed
over, nodes are counted, and the frozen clock (a
:class:`~labs.kit.notebook.RecordingClock`) moves only when a node says it took time. A
runner that runs nodes, saves or reads far more often than any graph here needs is stopped,
and the check says so instead of running on. When a runner check fails while your memory store breaks its
contract too, the line says so: mend the store first. Files live in a temporary folder,
removed afterwards.

Lab 06 imports lab 05 (``StateSchema``, ``run_step``), so with ``LAB_IMPL=labs`` these
checks run your lab 06 on your own lab 05, and a gap there shows here too (the checks use
reducers of their own, not lab 05's). The grader uses the reference lab 05 while it grades
lab 06, as ``load_lab`` does with ``LAB_IMPL=solutions``.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from functools import partial
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

from labs.kit.checkpoints import Checkpoint, CheckpointStore
from labs.kit.fake_llm import DEFAULT_MODEL, reply
from labs.kit.graph import END, Graph, Node
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

LAB06 = "lab06_checkpoints"
FOLDER_PREFIX = "lab06-check-"
_TEMPORARY = re.compile(re.escape(tempfile.gettempdir()) + rf"/{FOLDER_PREFIX}[^/]+/")
#: The parts of the store contract, in the order :func:`conformance` runs them.
PARTS = ("copies", "ids", "history")
#: Saves, and reads, one run may make before the check calls it a runaway loop.
MAX_SAVES = 200
MAX_READS = 400
#: 2026-01-01 12:00:00.250000 UTC: the time of the checkpoints the contract saves.
T0 = 1_767_268_800.25
#: An id no store here ever gives.
UNKNOWN_ID = "999999999999"

StoreMaker = Callable[[], CheckpointStore]


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
    runaway is an observation like any error."""
    try:
        return Outcome(value=call())
    except NotImplementedError:
        raise
    except RunawayError as error:
        return Outcome(error=error)
    except Exception as error:  # noqa: BLE001 - what the lab raised is the observation
        return Outcome(error=error)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {short(_TEMPORARY.sub('', str(error)), 90)}"


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB06)


def _close(store: Any) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


@contextmanager
def _folder() -> Iterator[Path]:
    """A temporary folder for one check's files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX) as name:
        yield Path(name)


def _draft(thread: str, step: int, state: dict[str, Any], created_at: float = T0) -> Checkpoint:
    """A checkpoint as a runner hands it to ``save``: no id yet, no parent."""
    return Checkpoint(thread_id=thread, step=step, ran=("sync",) if step else (),
                      next=("sync",), state=state, created_at=created_at,
                      metadata={"source": "loop" if step else "input"})


def _listed(current: Any, new: Any) -> list[Any]:
    """A reducer of the checks' own: ``new`` (a list) after ``current``."""
    return [*(current or []), *new]


# -- the store contract ------------------------------------------------------------------


class _Saves:
    """Names the ids one part of the contract saved: ``#k`` for the k-th save."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def add(self, checkpoint_id: Any) -> Any:
        self.ids.append(checkpoint_id)
        return checkpoint_id

    def name(self, checkpoint_id: Any) -> str:
        if checkpoint_id in self.ids:
            return f"#{self.ids.index(checkpoint_id) + 1}"
        return short(checkpoint_id, 20)

    def names(self, ids: Iterable[Any]) -> str:
        shown = [self.name(i) for i in ids]
        return ", ".join(shown) if shown else "none"


def _ids_of(checkpoints: Any) -> list[Any]:
    return [getattr(c, "id", c) for c in checkpoints] if isinstance(checkpoints, list) \
        else [checkpoints]


def _copies(store: CheckpointStore, not_found: type[BaseException]) -> list[str]:
    """A saved checkpoint is a copy, and so is every checkpoint the store hands out."""
    thread = "cutover-copies"
    state = {"hosts": ["db-1"], "owner": {"team": "sre", "pager": ["ana"]}}
    kept = copy.deepcopy(state)
    saved = store.save(_draft(thread, 0, state))
    state["hosts"].append("db-2")
    state["owner"]["pager"].append("ben")
    first = store.load(saved)
    if first.state != kept:
        return [(f"a checkpoint saved, then the state it was saved from changed: load gave "
                 f"{short(first.state, 70)}; expected {kept} (save a deep copy: nested lists "
                 "and dicts were shared)")]
    problems = []
    handouts: list[tuple[str, Callable[[], Any], Callable[[Checkpoint], None]]] = [
        ("load", lambda: store.load(saved), lambda c: c.state["hosts"].clear()),
        ("list", lambda: store.list(thread)[0], lambda c: c.state["owner"].update(team="dba")),
        ("latest", lambda: store.latest(thread),
         lambda c: c.state["owner"]["pager"].append("cy")),
    ]
    for name, hand_out, change in handouts:
        checkpoint = hand_out()
        change(checkpoint)
        now = store.load(saved).state
        if now != kept:
            problems.append(f"a checkpoint handed out by {name}, then changed by the caller: "
                            f"the store now holds {short(now, 70)}; expected {kept} (hand out "
                            "deep copies, never the stored checkpoint)")
            kept = now
    return problems


def _ids(store: CheckpointStore, not_found: type[BaseException]) -> list[str]:
    """24 checkpoints at one instant, in two threads: unique ids in save order, each the
    ``id`` of the checkpoint loaded by it; the latest is the one saved last, though its time
    is a day earlier."""
    saves = _Saves()
    threads = ["cutover-green" if n % 3 == 0 else "cutover-blue" for n in range(23)]
    for n, thread in enumerate(threads):
        saves.add(store.save(_draft(thread, n, {"wave": n})))
    threads.append("cutover-blue")
    saves.add(store.save(_draft("cutover-blue", 23, {"wave": 23}, created_at=T0 - 86_400)))
    ids = saves.ids
    odd = [i for i in ids if not (isinstance(i, str) and i)]
    if odd:
        return [f"save returned {short(odd[0])}; expected the new checkpoint's id, a string"]
    twice = [i for i, n in Counter(ids).items() if n > 1]
    if twice:
        return [(f"24 checkpoints saved at one frozen instant got {len(set(ids))} distinct ids "
                 f"({twice[0]!r} more than once); an id from the clock collides: count them")]
    wrong = next((k for k in range(1, len(ids)) if ids[k] < ids[k - 1]), None)
    if wrong is not None:
        return [(f"ids do not sort in save order: save #{wrong + 1} got {ids[wrong]!r}, which "
                 f"sorts before #{wrong}'s {ids[wrong - 1]!r} (zero-pad a counter: "
                 "'10' < '9' as strings)")]
    problems = []
    back = store.load(ids[9])
    if back.id != ids[9] or back.state != {"wave": 9}:
        problems.append(f"load({ids[9]!r}) gave a checkpoint with id {back.id!r} and state "
                        f"{short(back.state)}; expected that id, and the state saved under it")
    for thread in ("cutover-blue", "cutover-green"):
        last = max(k for k, t in enumerate(threads) if t == thread)
        latest = store.latest(thread)
        if getattr(latest, "id", None) != ids[last]:
            why = ", though its time is a day earlier (never choose by timestamp)" \
                if thread == "cutover-blue" else ""
            problems.append(f"latest({thread!r}) gave {saves.name(getattr(latest, 'id', latest))}"
                            f"; expected #{last + 1}, the thread's last save{why}")
    return problems


def _history(store: CheckpointStore, not_found: type[BaseException]) -> list[str]:
    """list newest first, with limit and before; threads apart; delete and clear."""
    saves = _Saves()
    night: list[str] = []
    day: list[str] = []
    for n, thread in enumerate(["night", "day", "night", "night", "day", "night", "night",
                                "night", "day"]):
        checkpoint_id = saves.add(store.save(_draft(f"backfill-{thread}", n, {"batch": n},
                                                    created_at=T0 + 60 * n)))
        (night if thread == "night" else day).append(checkpoint_id)

    def listed(thread: str, **options: Any) -> list[Any]:
        return _ids_of(store.list(f"backfill-{thread}", **options))

    newest = night[::-1]
    expected = [
        ("list(thread), newest first", listed("night"), newest),
        ("list(limit=2)", listed("night", limit=2), newest[:2]),
        (f"list(before={saves.name(night[4])})", listed("night", before=night[4]),
         night[:4][::-1]),
        (f"list(before={saves.name(night[4])}, limit=3)",
         listed("night", before=night[4], limit=3), night[1:4][::-1]),
        ("the other thread's list", listed("day"), day[::-1]),
        ("a thread never saved to", listed("never"), []),
    ]
    problems = [f"{what}: saves {saves.names(seen)}; expected {saves.names(want)}"
                for what, seen, want in expected if seen != want]
    batches = [getattr(c, "state", {}).get("batch") for c in store.list("backfill-day")]
    if not problems and batches != [8, 4, 1]:
        problems.append(f"the other thread's checkpoints hold batches {batches}; expected "
                        "[8, 4, 1], the states they were saved with")
    if store.latest("backfill-never") is not None:
        problems.append("latest of a thread never saved to is not None")
    store.delete(night[2])
    store.delete(UNKNOWN_ID)
    left = listed("night")
    if left != [i for i in newest if i != night[2]]:
        problems.append(f"after delete({saves.name(night[2])}) the thread lists saves "
                        f"{saves.names(left)}")
    gone = _attempt(lambda: store.load(night[2]))
    if not gone.raised(not_found):
        problems.append(f"load of a deleted checkpoint {gone.describe()}; expected "
                        f"{not_found.__name__}")
    store.clear("backfill-night")
    store.clear("backfill-never")
    if listed("night") or store.latest("backfill-night") is not None:
        problems.append(f"after clear the thread still lists saves {saves.names(listed('night'))}")
    if listed("day") != day[::-1]:
        problems.append(f"clearing one thread left the other with saves "
                        f"{saves.names(listed('day'))}; expected {saves.names(day[::-1])} "
                        "(clear only the thread named)")
    unknown = _attempt(lambda: store.load(UNKNOWN_ID))
    if not unknown.raised(not_found):
        problems.append(f"load of an id never given {unknown.describe()}; expected "
                        f"{not_found.__name__}")
    return problems


_CONTRACT: dict[str, Callable[[CheckpointStore, type[BaseException]], list[str]]] = {
    "copies": _copies,
    "ids": _ids,
    "history": _history,
}


def conformance(make_store: StoreMaker, *, parts: Iterable[str] = PARTS,
                not_found: type[BaseException] = LookupError) -> list[str]:
    """Run the store contract on stores made by ``make_store``; the problems found, each
    prefixed with its part (an empty list: the store keeps the contract).

    Each part gets a store of its own from ``make_store()`` (closed afterwards when it has
    a ``close`` method) and threads of its own: a store on a path is opened afresh for each
    part, on whatever the parts before it left there.

    - ``"copies"``: a saved checkpoint is a deep copy: changing the state it was saved
      from, or a checkpoint handed out by ``load``, ``list`` or ``latest``, changes nothing
      stored;
    - ``"ids"``: 24 checkpoints saved at one instant in two threads get unique string ids
      that sort in save order, and a checkpoint loaded by its id carries that id; a
      thread's ``latest`` is its last save, though that one's time is a day earlier;
    - ``"history"``: ``list`` newest first, with ``limit``, ``before`` (strictly before)
      and both; threads apart; an unknown thread lists nothing and has no latest;
      ``delete`` forgets one checkpoint (then ``load`` raises ``not_found``) and ``clear``
      one thread, neither complaining about what is not there; ``load`` of an id never
      given raises ``not_found``.

    ``not_found`` is the exception a missing id must raise (the lab's CheckpointNotFound is
    a LookupError). An exception is a problem of its part; NotImplementedError goes through.
    """
    problems = []
    for part in parts:
        store = make_store()
        try:
            seen = _attempt(partial(_CONTRACT[part], store, not_found))
        finally:
            _close(store)
        found = [f"the store {seen.describe()}"] if seen.error is not None else seen.value
        problems += [f"{part}: {problem}" for problem in found]
    return problems


# -- watching the runner -----------------------------------------------------------------


class _Watched:
    """A store of the lab's, watched: each checkpoint the runner hands to ``save`` is noted
    as it was handed over (a deep copy, with the id the store gave it), and so is each
    ``delete``; a runner that saves or reads far more often than any run here needs is
    stopped with RunawayError."""

    def __init__(self, store: CheckpointStore) -> None:
        self.store = store
        self.saved: list[Checkpoint] = []
        self.deleted: list[str] = []
        self.reads = 0

    def save(self, checkpoint: Checkpoint) -> str:
        if len(self.saved) >= MAX_SAVES:
            raise RunawayError(f"did not stop: more than {MAX_SAVES} saves")
        handed = copy.deepcopy(checkpoint)
        checkpoint_id = self.store.save(checkpoint)
        if isinstance(handed, Checkpoint):
            self.saved.append(replace(handed, id=checkpoint_id))
        return checkpoint_id

    def load(self, checkpoint_id: str) -> Checkpoint:
        self._read()
        return self.store.load(checkpoint_id)

    def latest(self, thread_id: str) -> Checkpoint | None:
        self._read()
        return self.store.latest(thread_id)

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        self._read()
        return self.store.list(thread_id, limit=limit, before=before)

    def delete(self, checkpoint_id: str) -> None:
        self.deleted.append(checkpoint_id)
        self.store.delete(checkpoint_id)

    def clear(self, thread_id: str) -> None:
        self.deleted.append(f"every checkpoint of {thread_id!r}")
        self.store.clear(thread_id)

    def _read(self) -> None:
        self.reads += 1
        if self.reads > MAX_READS:
            raise RunawayError(f"did not stop: more than {MAX_READS} reads of the store")


class _Nodes:
    """Makes a check's nodes and counts their runs; a runner that calls nodes far more
    often than any graph here needs is stopped with RunawayError."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def node(self, name: str, work: Node) -> Node:
        def run(state: dict[str, Any]) -> Any:
            with self._lock:
                self.runs[name] += 1
                if sum(self.runs.values()) > MAX_CALLS:
                    raise RunawayError(f"did not stop: more than {MAX_CALLS} node runs")
            return work(state)

        return run

    def line(self, *names: str) -> Graph:
        """``names`` one after another, each adding ``"<name> #<its run>"`` to ``events``."""
        graph = Graph()
        for name in names:
            graph.add_node(name, self.node(name, lambda state, n=name: {
                "events": [f"{n} #{self.runs[n]}"]}))
        for source, target in pairwise(names):
            graph.add_edge(source, target)
        return graph.set_entry(names[0])


@dataclass
class _Run:
    """A runner on a watched memory store of the lab's, on a frozen clock."""

    clock: RecordingClock
    store: _Watched
    runner: Any

    @classmethod
    def start(cls, lab: ModuleType, graph: Graph, clock: RecordingClock,
              schema: Callable[[], Any] | None = None) -> _Run:
        """The lab's runner of ``graph`` on the schema ``schema()`` makes (by default the
        lab's StateSchema with ``events`` appended)."""
        store = _Watched(lab.MemoryCheckpointStore())
        made = lab.StateSchema().register("events", _listed) if schema is None else schema()
        return cls(clock, store, lab.CheckpointedGraph(graph, made, store, clock=clock.now))

    def seconds(self, checkpoint: Checkpoint) -> float:
        """When ``checkpoint`` was made, in seconds after the clock's start."""
        return round(checkpoint.created_at - self.clock.start.timestamp(), 3)


def _steps(checkpoints: Sequence[Checkpoint]) -> list[tuple[int, list[str], list[str]]]:
    return [(c.step, list(c.ran), list(c.next)) for c in checkpoints]


def _store_note(lab: ModuleType, problems: list[str]) -> list[str]:
    """``problems``, and when there are any and the memory store these runs use breaks the
    store contract, a word on that at the end."""
    if not problems:
        return problems
    broken = _attempt(lambda: conformance(lab.MemoryCheckpointStore,
                                          not_found=lab.CheckpointNotFound))
    said = broken.describe() if broken.error is not None else (broken.value or [""])[0]
    if said:
        said = said if len(said) <= 100 else said[:97] + "..."
        problems = [*problems, (f"(these runs use your MemoryCheckpointStore, which breaks "
                                f"the store contract: {said}; mend it first)")]
    return problems


def _key(value: Any, key: str) -> Any:
    """``value[key]`` when ``value`` is a dict, else None."""
    return value.get(key) if isinstance(value, dict) else None


def _source(checkpoint: Checkpoint) -> Any:
    metadata = checkpoint.metadata
    return metadata.get("source") if isinstance(metadata, dict) else None


# -- lab06.checkpoint-per-step -----------------------------------------------------------


def checkpoint_per_step(lab: ModuleType | None = None) -> bool:
    """A cutover (freeze writes; snapshot the database and drain the queue side by side;
    switch the traffic) on a clock the nodes move: a checkpoint for the input and after
    each step, holding the step, the nodes that ran and those to run next, the state after
    the step, the time on the clock given, the checkpoint before it as parent and the
    source; the run returns the last state, and ``history`` lists them newest first."""
    lab = _lab(lab)
    nodes = _Nodes()

    def took(seconds: float, event: str) -> Node:
        def work(state: dict[str, Any]) -> dict[str, Any]:
            clock.advance(seconds)
            return {"events": [event]}

        return work

    with RecordingClock() as clock:
        graph = (Graph()
                 .add_node("freeze_writes", nodes.node("freeze_writes", took(30, "writes frozen")))
                 .add_node("snapshot_db", nodes.node("snapshot_db", took(150, "snapshot s-118")))
                 .add_node("drain_queue", nodes.node("drain_queue", took(0, "queue drained")))
                 .add_node("switch_traffic", nodes.node("switch_traffic",
                                                        took(20, "traffic on eu-west-b")))
                 .add_edge("freeze_writes", "snapshot_db").add_edge("freeze_writes", "drain_queue")
                 .add_edge("snapshot_db", "switch_traffic")
                 .add_edge("drain_queue", "switch_traffic").set_entry("freeze_writes"))
        run = _Run.start(lab, graph, clock)
        final = _attempt(lambda: run.runner.run("cutover-eu-9", {"events": [],
                                                                  "region": "eu-west"}))
        history = _attempt(lambda: run.runner.history("cutover-eu-9"))
    saved = run.store.saved
    events = ["writes frozen", "queue drained", "snapshot s-118", "traffic on eu-west-b"]
    wanted = {
        "steps": ([c.step for c in saved], [0, 1, 2, 3]),
        "ran": ([list(c.ran) for c in saved],
                [[], ["freeze_writes"], ["drain_queue", "snapshot_db"], ["switch_traffic"]]),
        "next": ([list(c.next) for c in saved],
                 [["freeze_writes"], ["drain_queue", "snapshot_db"], ["switch_traffic"], []]),
        "events in their states": ([_key(c.state, "events") for c in saved],
                                   [events[:0], events[:1], events[:3], events]),
        "seconds on the clock": ([run.seconds(c) for c in saved], [0.0, 30.0, 180.0, 200.0]),
        "parents": ([c.parent_id for c in saved], [None, *[c.id for c in saved[:-1]]]),
        "metadata['source']": ([_source(c) for c in saved], ["input", "loop", "loop", "loop"]),
    }
    problems = [] if final.error is None else [f"run {final.describe()}"]
    problems += [f"the checkpoints saved, {what}: {short(seen, 110)}; expected {short(want, 110)}"
                 for what, (seen, want) in wanted.items() if seen != want][:2]
    if not problems and any(_key(c.state, "region") != "eu-west" for c in saved):
        problems.append("a checkpoint's state lost the key 'region' from the input")
    if not problems and final.value != saved[-1].state:
        problems.append(f"run returned {short(final.value, 70)}; expected the last "
                        "checkpoint's state")
    if not problems and _ids_of(history.value) != [c.id for c in saved][::-1]:
        problems.append(f"history(thread) {history.describe()}; expected the 4 checkpoints, "
                        "newest first")
    return verdict("checkpoint-per-step", _store_note(lab, problems),
                   "4 checkpoints: the input, then steps 1-3 (drain_queue and snapshot_db side "
                   "by side), at 0, 30, 180, 200 s; each the state after its step, following "
                   "the one before, sources input, loop, loop, loop; history newest first")


# -- lab06.snapshots-isolated ------------------------------------------------------------


def snapshots_isolated(lab: ModuleType | None = None) -> bool:
    """The contract's copies part on the memory store; then a run's final state, and a
    checkpoint of its history, changed by the caller: what the store holds is unchanged."""
    lab = _lab(lab)
    problems = conformance(lab.MemoryCheckpointStore, parts=["copies"],
                           not_found=lab.CheckpointNotFound)
    if not problems:
        nodes = _Nodes()
        with RecordingClock() as clock:
            run = _Run.start(lab, nodes.line("plan_rollout", "roll_canary"), clock)
            final = _attempt(lambda: run.runner.run("rollout-copies", {"events": ["start"]}))
            kept = copy.deepcopy(final.value)

            def change_what_was_handed_out() -> Any:
                final.value["events"].append("changed by the caller")
                for checkpoint in run.runner.history("rollout-copies"):
                    checkpoint.state["events"].clear()
                return run.store.store.load(run.store.saved[-1].id).state

            stored = _attempt(change_what_was_handed_out) if final.error is None else final
        if stored.error is not None:
            problems.append(f"a run of two steps, its final state and history changed by the "
                            f"caller, then its last checkpoint loaded: {stored.describe()}")
        elif stored.value != kept:
            problems.append(f"a run's final state and its history changed by the caller: its "
                            f"last checkpoint now holds {short(stored.value, 70)}; expected "
                            f"{kept} (the runner hands out what the store handed it, and the "
                            "store copies)")
    return verdict("snapshots-isolated", problems[:3],
                   "saved, then the state changed; handed out by load, list and latest, then "
                   "changed: the store kept {'hosts': ['db-1'], ...} each time; a run's final "
                   "state and history changed: its last checkpoint unchanged")


# -- lab06.ids-ordered -------------------------------------------------------------------


def ids_ordered(lab: ModuleType | None = None) -> bool:
    """The contract's ids part on the memory store; then a run of 11 polls while the clock
    stands still: latest is the last step, and the thread lists steps 11 down to 0."""
    lab = _lab(lab)
    problems = conformance(lab.MemoryCheckpointStore, parts=["ids"],
                           not_found=lab.CheckpointNotFound)
    nodes = _Nodes()
    graph = (Graph()
             .add_node("poll", nodes.node("poll", lambda state: {"polls": state["polls"] + 1}))
             .add_conditional_edges("poll", lambda state: "poll" if state["polls"] < 11 else END,
                                    ["poll", END])
             .set_entry("poll"))
    with RecordingClock() as clock:
        run = _Run.start(lab, graph, clock)
        ran = _attempt(lambda: run.runner.run("poll-replica", {"polls": 0}))
        latest = _attempt(lambda: run.store.store.latest("poll-replica"))
        listed = _attempt(lambda: run.store.store.list("poll-replica"))
    if ran.error is not None:
        problems.append(f"a run of 11 polls on a frozen clock: run {ran.describe()}")
    else:
        steps = [getattr(c, "step", None) for c in listed.value or []]
        if getattr(latest.value, "step", None) != 11 or steps != list(range(11, -1, -1)):
            problems.append(
                f"11 polls while the clock stood still (every checkpoint at one time): latest "
                f"is step {getattr(latest.value, 'step', latest.value)!r}, the thread lists "
                f"steps {short(steps, 60)}; expected 11, and 11 down to 0")
    return verdict("ids-ordered", problems[:3],
                   "24 checkpoints at one instant: 24 distinct ids, sorting in save order past "
                   "#10; latest the last save though a day older; 11 polls on a frozen clock: "
                   "latest step 11, listed 11 down to 0")


# -- lab06.history-per-thread ------------------------------------------------------------


def history_per_thread(lab: ModuleType | None = None) -> bool:
    """The contract's history part on the memory store: two threads, list with limit and
    before, delete, clear, and missing ids."""
    lab = _lab(lab)
    problems = conformance(lab.MemoryCheckpointStore, parts=["history"],
                           not_found=lab.CheckpointNotFound)
    return verdict("history-per-thread", problems[:3],
                   "9 saves in two threads: newest first, limit=2, before= (strictly), both; "
                   "threads apart; delete and clear of one thread, the other untouched; a "
                   "missing id raised CheckpointNotFound")


# -- lab06.resume-latest -----------------------------------------------------------------


def resume_latest(lab: ModuleType | None = None) -> bool:
    """An upgrade (ask the model, download, install, restart) whose install fails the first
    time, at step 3: nothing is saved for that step, and resuming the thread runs install
    and restart only, the model not asked again. Resuming the finished thread runs and
    saves nothing; a thread with no checkpoint raises CheckpointNotFound."""
    lab = _lab(lab)
    nodes = _Nodes()
    with RecordingClock() as clock, GuardedLLM([reply("Take Postgres 16.4.")],
                                               clock=clock) as llm:
        client = llm.client(max_retries=0)

        def ask_model(state: dict[str, Any]) -> dict[str, Any]:
            said = client.chat.completions.create(
                model=DEFAULT_MODEL,
                messages=[{"role": "user", "content": "Which minor version for db-7?"}])
            return {"events": [said.choices[0].message.content]}

        def install(state: dict[str, Any]) -> dict[str, Any]:
            if nodes.runs["install"] == 1:
                raise RuntimeError("install failed: no space left on db-7")
            return {"events": ["installed 16.4"]}

        graph = (Graph().add_node("ask_model", nodes.node("ask_model", ask_model))
                 .add_node("download", nodes.node("download", lambda s: {"events": ["downloaded"]}))
                 .add_node("install", nodes.node("install", install))
                 .add_node("restart", nodes.node("restart", lambda s: {"events": ["restarted"]}))
                 .add_edge("ask_model", "download").add_edge("download", "install")
                 .add_edge("install", "restart").set_entry("ask_model"))
        run = _Run.start(lab, graph, clock)
        first = _attempt(lambda: run.runner.run("upgrade-db-7", {"events": []}))
        after_failure = _steps(run.store.saved)
        resumed = _attempt(lambda: run.runner.resume("upgrade-db-7"))
        runs, requests, saves = dict(nodes.runs), len(llm.requests), len(run.store.saved)
        again = _attempt(lambda: run.runner.resume("upgrade-db-7"))
        unknown = _attempt(lambda: run.runner.resume("upgrade-db-404"))
    problems = []
    if first.error is None or "no space left" not in str(first.error):
        problems.append(f"a run whose install node fails: run {first.describe()}; the node's "
                        "error should come out")
    elif after_failure != [(0, [], ["ask_model"]), (1, ["ask_model"], ["download"]),
                           (2, ["download"], ["install"])]:
        ended = sum(1 for _, _, following in after_failure if not following)
        problems.append(f"after install failed at step 3 the thread holds steps "
                        f"{[step for step, _, _ in after_failure]}, {ended} of them with nothing "
                        "left to run; expected steps 0, 1 and 2 only (save a step's checkpoint "
                        "after it ran, never before)")
    expected_runs = {"ask_model": 1, "download": 1, "install": 2, "restart": 1}
    if not problems and (runs != expected_runs or requests != 1):
        restart = " (it started over: go on from the thread's latest checkpoint)" \
            if runs.get("ask_model", 0) > 1 else ""
        problems.append(f"after the resume the nodes had run {runs} and the model was asked "
                        f"{count(requests, 'time')}; expected {expected_runs}, asked once{restart}")
    done = ["Take Postgres 16.4.", "downloaded", "installed 16.4", "restarted"]
    if not problems and _key(resumed.value, "events") != done:
        problems.append(f"resume {resumed.describe()}; expected the events {done}")
    if not problems and (again.error is not None or again.value != resumed.value
                         or dict(nodes.runs) != expected_runs or len(run.store.saved) != saves):
        problems.append(f"resuming the finished thread {again.describe()} and saved "
                        f"{count(len(run.store.saved) - saves, 'checkpoint')}; expected its "
                        "final state, nothing run, nothing saved")
    if not unknown.raised(lab.CheckpointNotFound):
        problems.append(f"resuming a thread with no checkpoint {unknown.describe()}; expected "
                        "CheckpointNotFound")
    return verdict("resume-latest", _store_note(lab, problems),
                   "install failed at step 3, steps 0-2 saved; resumed at step 3: install and "
                   "restart ran, ask_model and download once in all, 1 LLM request; the "
                   "finished thread resumed: nothing run or saved; an unknown thread: "
                   "CheckpointNotFound")


# -- lab06.time-travel-fork --------------------------------------------------------------


def time_travel_fork(lab: ModuleType | None = None) -> bool:
    """A release (fetch, lint, test, package) run to its end; ten minutes later, going on
    again from its step 2 checkpoint runs test and package again, as a new branch: its
    first checkpoint follows step 2's, the next follows that one, the tip is the thread's
    latest, and every checkpoint of the first run is still there, unchanged."""
    lab = _lab(lab)
    nodes = _Nodes()
    with RecordingClock() as clock:
        run = _Run.start(lab, nodes.line("fetch", "lint", "test", "package"), clock)
        first = _attempt(lambda: run.runner.run("release-train-12", {"events": []}))
        before = list(run.store.saved)
        clock.advance(600)
        step_two = next((c for c in before if c.step == 2), None)
        forked = _attempt(lambda: run.runner.resume_from(step_two.id if step_two else ""))
        branch = run.store.saved[len(before):]
        kept = {c.id: _attempt(lambda c=c: run.store.store.load(c.id)) for c in before}
        listed = _attempt(lambda: run.store.store.list("release-train-12"))
        latest = _attempt(lambda: run.store.store.latest("release-train-12"))
    if first.error is not None or step_two is None:
        return verdict("time-travel-fork", _store_note(lab, [(
            f"a release of 4 steps: run {first.describe()}, checkpoints at steps "
            f"{short([c.step for c in before], 60)}")]), "")
    problems = []
    events = ["fetch #1", "lint #1", "test #2", "package #2"]
    if forked.error is not None or _key(forked.value, "events") != events:
        problems.append(f"going on from step 2: resume_from {forked.describe()}; expected "
                        f"the events {events}")
    if _steps(branch) != [(3, ["test"], ["package"]), (4, ["package"], [])]:
        problems.append(f"the branch saved (step, ran, next) {short(_steps(branch), 100)}; "
                        "expected steps 3 and 4 again")
    elif [c.parent_id for c in branch] != [step_two.id, branch[0].id]:
        problems.append(f"the branch's parents: {[c.parent_id for c in branch]}; expected "
                        f"{[step_two.id, branch[0].id]}: its first follows the step 2 "
                        "checkpoint it went on from")
    elif getattr(latest.value, "id", None) != branch[-1].id:
        problems.append(f"after the fork latest is {getattr(latest.value, 'id', latest.value)!r}; "
                        f"expected the branch's tip {branch[-1].id!r}")
    lost = [c.step for c in before if kept[c.id].error is not None]
    changed = [c.step for c in before
               if kept[c.id].error is None and kept[c.id].value != c]
    if lost or changed or run.store.deleted:
        problems.append(f"going on from an earlier checkpoint removed the first run's "
                        f"checkpoints at steps {lost} and changed those at steps {changed} "
                        f"(deleted: {len(run.store.deleted)}); history is append-only")
    elif len(listed.value or []) != len(before) + len(branch):
        problems.append(f"the thread lists {len(listed.value or [])} checkpoints; expected "
                        f"{len(before)} of the first run and {len(branch)} of the branch")
    return verdict("time-travel-fork", _store_note(lab, problems),
                   "from step 2 of a finished release: test and package ran again as steps 3 "
                   "and 4, the branch following the step 2 checkpoint, its tip the latest; the "
                   "first run's 5 checkpoints all there, unchanged")


# -- lab06.update-state ------------------------------------------------------------------


def update_state(lab: ModuleType | None = None) -> bool:
    """An incident (triage, escalate, page) run to its end; its step 2 checkpoint updated
    with an alert (a key with an appending reducer) and an owner (a last-value key): one
    new checkpoint, the alert appended and the owner replaced, the same step, ran and next,
    the checkpoint updated as parent, source "update", the latest of the thread, and the
    checkpoint updated left as it was. Resuming goes on from the update."""
    lab = _lab(lab)
    nodes = _Nodes()
    graph = (Graph()
             .add_node("triage", nodes.node("triage", lambda s: {"alerts": ["db-3 slow"]}))
             .add_node("escalate", nodes.node("escalate", lambda s: {"owner": "oncall-b"}))
             .add_node("page", nodes.node("page", lambda s: {"alerts": [f"paged {s['owner']}"]}))
             .add_edge("triage", "escalate").add_edge("escalate", "page").set_entry("triage"))
    with RecordingClock() as clock:
        run = _Run.start(lab, graph, clock, lambda: lab.StateSchema().register("alerts", _listed))
        first = _attempt(lambda: run.runner.run("incident-4711", {"alerts": ["p99 > 2 s"],
                                                                   "owner": "bot"}))
        before = list(run.store.saved)
        base = next((c for c in before if c.step == 2), None)
        note = {"alerts": ["manual: db-3 failing over"], "owner": "dba-lead"}
        updated = _attempt(lambda: run.runner.update_state(base.id if base else "", note))
        added = run.store.saved[len(before):]
        base_now = _attempt(lambda: run.store.store.load(base.id if base else ""))
        latest = _attempt(lambda: run.store.store.latest("incident-4711"))
        resumed = _attempt(lambda: run.runner.resume("incident-4711"))
    if first.error is not None or base is None:
        return verdict("update-state", _store_note(lab, [
            f"an incident of 3 steps: run {first.describe()}"]), "")
    problems = []
    if updated.error is not None:
        problems.append(f"update_state {updated.describe()}")
    elif len(added) != 1 or added[0].id != updated.value:
        problems.append(f"update_state returned {short(updated.value)} after saving "
                        f"{count(len(added), 'checkpoint')}; expected one new checkpoint, its id "
                        "returned")
    else:
        update = added[0]
        alerts = [*(_key(base.state, "alerts") or []), "manual: db-3 failing over"]
        if update.state != {"alerts": alerts, "owner": "dba-lead"}:
            problems.append(f"the update at step 2 holds {short(update.state, 90)}; expected "
                            f"alerts {alerts} (appended by its reducer) and owner 'dba-lead'")
        seen = (update.thread_id, update.step, update.ran, update.next, update.parent_id,
                _source(update))
        wanted = (base.thread_id, base.step, base.ran, base.next, base.id, "update")
        if seen != wanted:
            problems.append(f"the update's thread, step, ran, next, parent and source: "
                            f"{short(seen, 110)}; expected {short(wanted, 110)}")
        if getattr(latest.value, "id", None) != update.id:
            problems.append(f"after the update latest is "
                            f"{getattr(latest.value, 'id', latest.value)!r}, not the update")
    if base_now.error is not None or base_now.value != base or run.store.deleted:
        problems.append(f"the checkpoint updated: load now {base_now.describe()} (deleted: "
                        f"{len(run.store.deleted)}); it must stay as it was, the update is a new "
                        "checkpoint")
    final = ["p99 > 2 s", "db-3 slow", "manual: db-3 failing over", "paged dba-lead"]
    if not problems and _key(resumed.value, "alerts") != final:
        problems.append(f"resumed after the update: {resumed.describe()}; expected alerts "
                        f"{final} (page again, from the update)")
    return verdict("update-state", _store_note(lab, problems),
                   "step 2 updated: one new checkpoint, an alert appended through the reducer, "
                   "the owner replaced, step 2 kept, the step 2 checkpoint as parent and "
                   "unchanged, source 'update'; resumed from it: paged dba-lead")


# -- lab06.ephemeral-not-persisted -------------------------------------------------------


def ephemeral_not_persisted(lab: ModuleType | None = None) -> bool:
    """A triage (collect, analyse, report) whose steps leave an ephemeral ``route`` for
    their routers and ephemeral ``scratch`` data, from an input that holds scratch too;
    then its step 1 checkpoint updated with scratch and a finding, and the thread resumed
    from the update. No checkpoint saved holds either key, while the routers still saw the
    route: the run reached report, and so did the resumed one."""
    lab = _lab(lab)
    nodes = _Nodes()
    writes = {"collect": ("analyse", "raw: 4,812 log lines", "collected"),
              "analyse": ("report", "parsed: 3 errors", "3 errors"),
              "report": (END, "draft of the report", "reported")}
    graph = Graph()
    for name, (route, scratch, finding) in writes.items():
        graph.add_node(name, nodes.node(name, lambda state, r=route, s=scratch, f=finding: {
            "route": r, "scratch": s, "findings": [f]}))
        graph.add_conditional_edges(name, lambda state: state.get("route", END), [route])
    graph.set_entry("collect")

    def schema() -> Any:
        return (lab.StateSchema().register("findings", _listed)
                .register("route", ephemeral=True).register("scratch", ephemeral=True))

    with RecordingClock() as clock:
        run = _Run.start(lab, graph, clock, schema)
        ran = _attempt(lambda: run.runner.run("triage-api-5", {
            "findings": [], "scratch": "the caller's notes"}))
        step_one = next((c for c in run.store.saved if c.step == 1), None)
        updated = _attempt(lambda: run.runner.update_state(
            step_one.id if step_one else "", {"scratch": "an operator's scratch",
                                              "findings": ["operator: look at api-5"]}))
        resumed = _attempt(lambda: run.runner.resume("triage-api-5"))
        listed = _attempt(lambda: run.store.store.list("triage-api-5"))
    problems = [f"{what} {seen.describe()}" for what, seen in
                (("run", ran), ("update_state", updated), ("resume after the update", resumed))
                if seen.error is not None]
    holding = [f"step {c.step} ({_source(c)})" for c in [*run.store.saved, *(listed.value or [])]
               if isinstance(c.state, dict) and {"route", "scratch"} & set(c.state)]
    if holding:
        problems.append(f"checkpoints holding an ephemeral key: {', '.join(dict.fromkeys(holding))}"
                        "; ephemeral keys never reach a checkpoint, from the input, a step or an "
                        "update (save the step's state, not its view; clean up an update)")
    steps = [c.step for c in run.store.saved]
    if not problems and steps != [0, 1, 2, 3, 1, 2, 3]:
        problems.append(f"steps saved {steps}; expected 0 to 3, the update at 1, then 2 and 3 "
                        "again (the routers read the route in the step's view)")
    return verdict("ephemeral-not-persisted", _store_note(lab, problems),
                   "7 checkpoints (the input, 3 steps, an update, 2 steps after it): none holds "
                   "route or scratch, though the input, every step and the update wrote scratch; "
                   "the routers saw the route")


# -- lab06.durable-stores ----------------------------------------------------------------


def _observed(what: str, observe: Callable[[], list[str]]) -> list[str]:
    """The problems ``observe`` found; an exception it let out is a problem of its own."""
    seen = _attempt(observe)
    return [f"{what}: {seen.describe()}"] if seen.error is not None else seen.value


def _reopened(make: StoreMaker) -> list[str]:
    """Three checkpoints saved and the store closed; a fresh store on the same path lists
    them whole, and its next save gets a greater id."""
    drafts = [_draft("handover-eu", n, {"n": n, "note": "Zürich → 東京 ✓"},
                     created_at=T0 + n + 0.000123) for n in range(3)]
    first = make()
    try:
        ids = [first.save(draft) for draft in drafts]
    finally:
        _close(first)
    second = make()
    try:
        found = second.list("handover-eu")
        later = second.save(_draft("handover-eu", 3, {"n": 3}))
        latest = second.latest("handover-eu")
    finally:
        _close(second)
    if _ids_of(found) != ids[::-1]:
        return [(f"3 checkpoints saved, the store closed: a fresh store on the same path "
                 f"lists {short(_ids_of(found), 60)}; expected {ids[::-1]}")]
    for saved, back in zip([replace(d, id=i) for d, i in zip(drafts, ids)][::-1], found):
        wrong = [f"{f.name} {short(getattr(back, f.name), 40)} instead of "
                 f"{short(getattr(saved, f.name), 40)}"
                 for f in fields(Checkpoint) if getattr(back, f.name) != getattr(saved, f.name)]
        if wrong:
            return [f"read back by a fresh store, checkpoint {saved.id} has {wrong[0]}"]
    if not (isinstance(later, str) and later > max(ids)):
        return [(f"after reopening, a new checkpoint got the id {later!r}, which does not "
                 f"sort after {max(ids)!r}: the counter must outlive the store (keep it on "
                 "disk)")]
    if getattr(latest, "id", None) != later:
        return [f"after reopening and one more save, latest is {short(latest)}"]
    return []


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def _garble(kind: str, folder: Path, path: Path, before: set[Path], bad: str) -> str:
    """Cut checkpoint ``bad``'s entry in half behind the store's back; the name of the file
    that holds it. ``before``: the files there were before it was saved."""
    if kind == "FileCheckpointStore":
        after = _files(folder)
        made = [p for p in after - before if not p.name.startswith(".")]
        if len(made) != 1:
            made = [p for p in after if bad in p.name]
        if len(made) != 1:
            raise AssertionError(f"could not tell which file holds checkpoint {bad}: one file "
                                 "per checkpoint, please")
        data = made[0].read_bytes()
        made[0].write_bytes(data[: len(data) // 2])
        return made[0].name
    cut = 0
    db = sqlite3.connect(path)
    try:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            try:
                cursor = db.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid DESC LIMIT 1')
            except sqlite3.Error:
                continue
            row = cursor.fetchone()
            columns = [column[0] for column in cursor.description][1:]
            for column, value in zip(columns, row[1:] if row else ()):
                if isinstance(value, bytes) or (isinstance(value, str) and value[:1] in "{["):
                    db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',
                               (value[: len(value) // 2], row[0]))
                    cut += 1
        db.commit()
    finally:
        db.close()
    if not cut:
        raise AssertionError(f"could not find checkpoint {bad}'s row: no column of a table's "
                             "last row holds JSON text")
    return path.name


def _garbled(lab: ModuleType, kind: str, make: StoreMaker, folder: Path, path: Path) -> list[str]:
    """One checkpoint's entry cut in half: load and latest raise CheckpointCorrupted naming
    where it is; the checkpoint saved before it still loads."""
    store = make()
    try:
        good = store.save(_draft("garbled-eu", 0, {"fine": True}))
        before = _files(folder)
        bad = store.save(_draft("garbled-eu", 1, {"fine": False}))
    finally:
        _close(store)
    where = _garble(kind, folder, path, before, bad)
    entry = "a checkpoint file" if kind == "FileCheckpointStore" else "a checkpoint's row"
    fresh = make()
    try:
        seen = {"load": _attempt(lambda: fresh.load(bad)),
                "latest": _attempt(lambda: fresh.latest("garbled-eu"))}
        neighbour = _attempt(lambda: fresh.load(good))
    finally:
        _close(fresh)
    problems = []
    for call, outcome in seen.items():
        if not outcome.raised(lab.CheckpointCorrupted):
            problems.append(f"{entry} cut in half: {call} {outcome.describe()}; expected "
                            f"CheckpointCorrupted naming {where}")
        elif where not in str(outcome.error):
            problems.append(f"{entry} cut in half: {call} raised {_error_text(outcome.error)}; "
                            f"name {where} in it")
    if neighbour.error is not None or getattr(neighbour.value, "state", None) != {"fine": True}:
        problems.append(f"the checkpoint saved before the garbled one: load "
                        f"{neighbour.describe()}; expected it whole")
    return problems[:2]


def _not_a_database(lab: ModuleType, folder: Path) -> list[str]:
    """A JSON file opened as a database: CheckpointCorrupted naming it."""
    junk = folder / "exported-checkpoints.db"
    junk.write_text(json.dumps([_draft("export", 0, {"n": 0}).to_dict()]))

    def open_it() -> Any:
        store = lab.SqliteCheckpointStore(junk)
        try:
            return store.latest("export")
        finally:
            _close(store)

    seen = _attempt(open_it)
    if not seen.raised(lab.CheckpointCorrupted):
        return [(f"a JSON file opened as a database: {seen.describe()}; expected "
                 f"CheckpointCorrupted naming {junk.name}")]
    if junk.name not in str(seen.error):
        return [(f"a JSON file opened as a database raised {_error_text(seen.error)}; name "
                 f"{junk.name} in it")]
    return []


def durable_stores(lab: ModuleType | None = None) -> bool:
    """The whole store contract on a FileCheckpointStore and on a SqliteCheckpointStore,
    each part on a store opened afresh on the same path; three checkpoints saved and the
    store closed, then read back whole by a fresh one, whose next id sorts after theirs;
    one entry cut in half behind the store's back (a checkpoint's file, a row's JSON):
    load and latest raise CheckpointCorrupted naming the file or the database, and the
    checkpoint saved before it still loads; a JSON file opened as a database raises
    CheckpointCorrupted naming it."""
    lab = _lab(lab)
    problems = []
    for kind, name in (("FileCheckpointStore", "checkpoints"),
                       ("SqliteCheckpointStore", "checkpoints.db")):
        with _folder() as folder:
            path = folder / name

            def make(kind: str = kind, path: Path = path) -> CheckpointStore:
                return getattr(lab, kind)(path)

            found = conformance(make, not_found=lab.CheckpointNotFound)
            found += _observed("reopened", partial(_reopened, make))
            found += _observed("garbled", partial(_garbled, lab, kind, make, folder, path))
            if kind == "SqliteCheckpointStore":
                found += _observed("not a database", partial(_not_a_database, lab, folder))
        problems += [f"{kind}: {problem}" for problem in found]
    return verdict("durable-stores", problems[:3],
                   "file and SQLite stores: the whole contract, each part on the store "
                   "reopened; 3 checkpoints read back whole by a fresh store, the next id after "
                   "theirs; an entry cut in half: CheckpointCorrupted naming the file (the "
                   "database), its neighbour fine; a JSON file as a database: "
                   "CheckpointCorrupted naming it")


#: Every lab 06 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    checkpoint_per_step,
    snapshots_isolated,
    ids_ordered,
    history_per_thread,
    resume_latest,
    time_travel_fork,
    update_state,
    ephemeral_not_persisted,
    durable_stores,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 06 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
