"""Lab 05's public checks (reducers and ephemeral channels); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab05 as selfcheck
    selfcheck.deterministic_merge()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()            # every lab 05 check, and a Summary

Like the grader, the checks watch the module from the outside: what a reducer returned
and whether its inputs were still as they were, the state a graph run ended with, what
every node and router was handed, what the step listeners heard, and the requests the
fake LLM received. A step's parallel nodes finish in an order the check chooses, not in
the order luck gives: each node waits until the node before it in that order has finished
(a runner that runs them side by side releases the wait at once; one that runs them one by
one makes each wait :data:`HOLD` real seconds at most, so a check never hangs). Where a
check needs a reducer of its own, to watch the merge order without depending on your
reducers, it uses one written here.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

from labs.kit.agent import start_messages
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import reply, tool_call
from labs.kit.graph import END, Graph, Node
from labs.kit.notebook import load_lab
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
from labs.kit.state import RemoveMessage, seed_state

LAB05 = "lab05_reducers"
#: Real seconds a node waits for the sibling it is told to finish after.
HOLD = 1.0


# -- observing calls ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one call did: the value it returned, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    def returned(self, expected: Any) -> bool:
        return self.error is None and _same(self.value, expected)

    def raised(self, kind: type[BaseException], naming: str) -> bool:
        """True when the call raised ``kind`` with ``naming`` in its message."""
        return isinstance(self.error, kind) and naming in str(self.error)

    def __str__(self) -> str:
        if self.error is None:
            return f"returned {short(self.value, 90)}"
        return f"raised {type(self.error).__name__}({short(str(self.error), 70)})"


def _attempt(call: Callable[[], Any]) -> Outcome:
    """Run ``call``; what it returned or raised. NotImplementedError goes through."""
    try:
        return Outcome(value=call())
    except NotImplementedError:
        raise
    except RunawayError as error:
        return Outcome(error=error)
    except Exception as error:  # noqa: BLE001 - what the lab raised is the observation
        return Outcome(error=error)


def _same(seen: Any, expected: Any) -> bool:
    """Equal, with the kinds of the values alike all the way down: a dict or a list where
    one is expected, and a scalar of the very same type (``0`` is not ``False``)."""
    if isinstance(expected, dict):
        return isinstance(seen, dict) and seen.keys() == expected.keys() and all(
            _same(seen[key], value) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(seen, list) and len(seen) == len(expected) and all(
            map(_same, seen, expected))
    return type(seen) is type(expected) and bool(seen == expected)


@dataclass
class Reduced:
    """One reducer call: its outcome, and what it did to its two inputs."""

    outcome: Outcome
    changed: list[str] = field(default_factory=list)
    """Which inputs ("current", "new") differ after the call from what they were."""
    aliased: bool = False
    """True when the result is one of the input lists itself."""

    def problem(self, call: str) -> str:
        """What the call did to its inputs, or ''."""
        if self.changed:
            return f"{call} changed its {' and '.join(self.changed)} argument; it returns a new value"
        if self.aliased:
            return (f"{call} returned one of its input lists itself: a later change to one "
                    "changes the other; build a new list")
        return ""


def _reduce(reducer: Callable[[Any, Any], Any], current: Any, new: Any) -> Reduced:
    """``reducer(current, new)``, watched."""
    before = copy.deepcopy((current, new))
    outcome = _attempt(lambda: reducer(current, new))
    changed = [name for name, now, then in zip(("current", "new"), (current, new), before)
               if not _same(now, then)]
    aliased = isinstance(outcome.value, list) and any(outcome.value is arg for arg in (current, new))
    return Reduced(outcome, changed, aliased)


def _call(name: str, current: Any, new: Any) -> str:
    return f"{name}({short(current, 44)}, {short(new, 44)})"


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB05)


# -- running graphs ----------------------------------------------------------------------


class _FinishOrder:
    """Makes the nodes of one step finish in a chosen order.

    Each node first waits until the node before it in ``order`` has finished: until that
    node has started, then until its thread has ended (so that its result is the first to
    reach ``run_in_parallel``'s queue), each wait at most :data:`HOLD` real seconds; then it
    does its work. ``finished`` is the order they really finished in.
    """

    def __init__(self, order: Sequence[str]) -> None:
        self.order = list(order)
        self.finished: list[str] = []
        self._started = {name: threading.Event() for name in self.order}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def node(self, name: str, work: Node) -> Node:
        def run(state: dict[str, Any]) -> Any:
            self._threads[name] = threading.current_thread()
            self._started[name].set()
            position = self.order.index(name)
            if position:
                self._after(self.order[position - 1])
            try:
                return work(state)
            finally:
                with self._lock:
                    self.finished.append(name)

        return run

    def _after(self, before: str) -> None:
        """Wait for node ``before`` to finish, unless it runs in this very thread."""
        if self._started[before].wait(HOLD):
            thread = self._threads[before]
            if thread is not threading.current_thread():
                thread.join(HOLD)


@dataclass(frozen=True)
class Step:
    """What a step listener heard of one step (copied as it was heard)."""

    number: Any
    ran: list[str]
    next: list[str]
    state: Any
    view: Any


@dataclass
class Ran:
    """A graph run: its outcome (the final state, or the error) and the steps heard."""

    outcome: Outcome
    steps: list[Step]

    @property
    def final(self) -> dict[str, Any]:
        """The final state, or {} when the run did not return a dict."""
        value = self.outcome.value
        return value if self.outcome.error is None and isinstance(value, dict) else {}


def _run_graph(lab: ModuleType, graph: Graph, schema: Callable[[], Any],
               start: Mapping[str, Any]) -> Ran:
    """``lab.run_graph(graph, schema(), start)`` with a listener, every node counted: a run
    that calls nodes far more often than the graph needs is stopped with RunawayError. An
    error building the schema is the run's outcome too."""
    calls = [0]
    lock = threading.Lock()

    def counted(node: Node) -> Node:
        def run(state: dict[str, Any]) -> Any:
            with lock:
                calls[0] += 1
                if calls[0] > MAX_CALLS:
                    raise RunawayError(f"did not stop: more than {MAX_CALLS} node calls")
            return node(state)

        return run

    graph.nodes = {name: counted(node) for name, node in graph.nodes.items()}
    steps: list[Step] = []

    def listener(result: Any) -> None:
        steps.append(Step(
            getattr(result, "step", None), list(getattr(result, "ran", ())),
            list(getattr(result, "next", ())), copy.deepcopy(getattr(result, "state", None)),
            copy.deepcopy(getattr(result, "view", None)),
        ))

    outcome = _attempt(lambda: lab.run_graph(graph, schema(), start, listeners=[listener]))
    return Ran(outcome, steps)


def _joined(current: Any, new: Any) -> str:
    """A reducer of the check's own: the writes in the order they were applied."""
    return new if current is None else f"{current} > {new}"


def _listed(current: Any, new: Any) -> list[Any]:
    """A reducer of the check's own: ``new`` (a list) added after ``current``."""
    return [*(current or []), *new]


def _peak(current: Any, new: Any) -> Any:
    """A reducer of the check's own: the larger value."""
    return new if current is None else max(current, new)


# -- lab05.overwrite-reducer -------------------------------------------------------------


def overwrite_reducer(lab: ModuleType | None = None) -> bool:
    """``overwrite(current, new)`` is ``new``, whatever either is (None and 0 included),
    and changes neither input."""
    lab = _lab(lab)
    pairs = [("blue", "green"), (2, 5), (["v1.4"], ["v1.5"]), ({"replicas": 2}, {"replicas": 6}),
             ("maintenance", None), (None, 0)]
    problems = []
    for current, new in pairs:
        seen = _reduce(lab.overwrite, current, new)
        call = _call("overwrite", current, new)
        if not seen.outcome.returned(new):
            why = " (a None written on purpose is a value too)" if new is None else ""
            problems.append(f"{call} {seen.outcome}; expected {new!r}{why}")
        elif seen.changed:
            problems.append(seen.problem(call))
    return verdict("overwrite-reducer", problems[:3],
                   f"{len(pairs)} pairs, the new value each time (None and 0 included); inputs "
                   "unchanged")


# -- lab05.append-reducer ----------------------------------------------------------------

def _appends() -> list[tuple[Any, Any, list[Any]]]:
    """``(current, new, expected)`` for append, made afresh for each check: a reducer that
    changes its input must not change the next check's data."""
    return [
        (None, ["cpu 91%"], ["cpu 91%"]),
        (None, "cpu 91%", ["cpu 91%"]),
        (["lint"], ["test", "build"], ["lint", "test", "build"]),
        (["lint"], "test", ["lint", "test"]),
        ("lint", "test", ["lint", "test"]),
        ("lint", ["test", "build"], ["lint", "test", "build"]),
        (["lint"], [], ["lint"]),
        ([["web-1", "web-2"]], [["web-3"]], [["web-1", "web-2"], ["web-3"]]),
        ([{"host": "web-1"}], {"host": "web-2"}, [{"host": "web-1"}, {"host": "web-2"}]),
    ]


def append_reducer(lab: ModuleType | None = None) -> bool:
    """``append`` handles a missing current value, lists and single items on either side
    (a list given as an item stays one item), returns a new list and changes no input."""
    lab = _lab(lab)
    problems = []
    cases = _appends()
    for current, new, expected in cases:
        call = _call("append", current, new)
        seen = _reduce(lab.append, current, new)
        if not seen.outcome.returned(expected):
            problems.append(f"{call} {seen.outcome}; expected {short(expected, 60)}")
        elif seen.problem(call):
            problems.append(seen.problem(call))
    return verdict("append-reducer", problems[:3],
                   f"{len(cases)} pairs: missing, list and single values on either side, lists "
                   "of lists kept as items; a new list each time, no input changed")


# -- lab05.add-messages-upsert -----------------------------------------------------------


def _thread() -> list[dict[str, Any]]:
    return [
        {"id": "u1", "role": "user", "content": "Is search healthy?"},
        {"id": "a1", "role": "assistant", "content": "Checking search."},
        {"role": "tool", "content": "search: running"},
        {"id": "a2", "role": "assistant", "content": "search is healthy."},
    ]


@dataclass
class _Note:
    """A message that is an object, known by its ``id`` attribute."""

    id: str | None
    content: str


def _contents(value: Any) -> Any:
    """The contents of a list of messages (dicts or objects), or the value itself."""
    if not isinstance(value, list):
        return value
    return [m.get("content") if isinstance(m, dict) else getattr(m, "content", m) for m in value]


def add_messages_upsert(lab: ModuleType | None = None) -> bool:
    """``add_messages`` replaces a known id where it stands, appends new and id-less
    messages, deletes on ``RemoveMessage`` and raises the lab's InvalidUpdate naming an
    unknown id; reads ids of dicts and of objects; changes neither input."""
    lab = _lab(lab)
    start = _contents(_thread())
    asked, problems = "Is search healthy?", []
    cases: list[tuple[str, Any, Any, list[str]]] = [
        ("a1 edited", _thread(),
         [{"id": "a1", "role": "assistant", "content": "Checking search and its index."}],
         [asked, "Checking search and its index.", "search: running", "search is healthy."]),
        ("a new id, then a message without one", _thread(),
         [{"id": "u2", "role": "user", "content": "And the index?"},
          {"role": "tool", "content": "index: green"}],
         [*start, "And the index?", "index: green"]),
        ("u1 edited, as one message outside a list", _thread(),
         {"id": "u1", "role": "user", "content": "Is search up?"},
         ["Is search up?", *start[1:]]),
        ("RemoveMessage('a2')", _thread(), [RemoveMessage("a2")], start[:3]),
        ("RemoveMessage('a1'), then a1 again", _thread(),
         [RemoveMessage("a1"), {"id": "a1", "role": "assistant", "content": "Checking again."}],
         [asked, "search: running", "search is healthy.", "Checking again."]),
        ("messages into none at all", None, [{"id": "u1", "role": "user", "content": asked}],
         [asked]),
        ("ids '' and None (no id at all)", [{"id": "", "content": "note 1"}],
         [{"id": None, "content": "note 2"}, {"id": "", "content": "note 3"}],
         ["note 1", "note 2", "note 3"]),
        ("objects: n2 edited, n1 removed, n3 added",
         [_Note("n1", "disk 91%"), _Note(None, "no id"), _Note("n2", "logs 40 GB")],
         [_Note("n2", "logs 12 GB"), RemoveMessage("n1"), SimpleNamespace(id="n3", content="cleaned")],
         ["no id", "logs 12 GB", "cleaned"]),
    ]
    for what, current, new, expected in cases:
        seen = _reduce(lab.add_messages, current, new)
        if seen.outcome.error is not None:
            problems.append(f"{what}: add_messages {seen.outcome}; expected {expected}")
        elif _contents(seen.outcome.value) != expected:
            problems.append(f"{what}: got {short(_contents(seen.outcome.value), 110)}; "
                            f"expected {expected}")
        elif seen.problem(f"add_messages ({what})"):
            problems.append(seen.problem(f"add_messages ({what})"))
    unknown = _attempt(lambda: lab.add_messages(_thread(), [RemoveMessage("a9")]))
    if not unknown.raised(lab.InvalidUpdate, "a9"):
        problems.append(f"RemoveMessage('a9') with no message a9: {unknown}; expected your "
                        "InvalidUpdate naming a9")
    return verdict("add-messages-upsert", problems[:3],
                   "an edit kept where it stood; new and id-less messages appended ('' and None "
                   "are no id); RemoveMessage deleted, and raised InvalidUpdate for an unknown "
                   "id; objects matched by .id; inputs unchanged")


# -- lab05.schema-update -----------------------------------------------------------------


def schema_update(lab: ModuleType | None = None) -> bool:
    """``update`` runs each key's reducer on (current value or None, new value), writes a
    key without one as it is, and returns a new dict; ``register`` chains and registering
    a key again replaces what was said of it; ``init`` is empty."""
    lab = _lab(lab)
    problems: list[str] = []

    def build() -> tuple[Any, bool]:
        schema = lab.StateSchema()
        chained = schema.register("events", lab.append) is schema
        schema.register("peak", _peak).register("owner", lab.append).register("owner", None)
        return schema, chained

    made = _attempt(build)
    if made.error is not None:
        return verdict("schema-update", [f"building a schema {made}"], "")
    schema, chained = made.value
    current = {"events": ["boot"], "peak": 71, "owner": "team-a", "limits": {"cpu": [2]}}
    before = copy.deepcopy(current)
    patch = {"events": "scale", "peak": 64, "owner": "team-b", "hosts": ["web-3"]}
    expected = {"events": ["boot", "scale"], "peak": 71, "owner": "team-b",
                "limits": {"cpu": [2]}, "hosts": ["web-3"]}
    updated = _attempt(lambda: schema.update(current, patch))
    if not updated.returned(expected):
        problems.append(
            f"update with append on events, the larger value on peak, owner made last-value "
            f"again, hosts unknown: {updated}; expected {expected}")
    if not _same(current, before):
        problems.append(f"update changed the state it was given into {short(current, 80)}; it "
                        "returns a new dict")
    elif updated.error is None and updated.value is current:
        problems.append("update returned the state it was given itself; it returns a new dict")
    fresh = _attempt(lambda: schema.update(schema.init(), {"events": ["boot"], "peak": 12}))
    if not fresh.returned({"events": ["boot"], "peak": 12}):
        problems.append(f"update(init(), {{'events': ['boot'], 'peak': 12}}) {fresh}; expected "
                        "{'events': ['boot'], 'peak': 12} (a missing key's reducer gets None)")
    empty = _attempt(schema.init)
    if not empty.returned({}) or not chained:
        problems.append(f"init() {empty} (expected {{}}); register returned "
                        f"{'the schema' if chained else 'something else'} (expected the schema)")
    return verdict("schema-update", problems[:3],
                   "events appended, peak kept at 71 by its reducer, owner overwritten once made "
                   "last-value again, an unknown key written; the given state unchanged; init() "
                   "is {}")


# -- lab05.agent-state-patch -------------------------------------------------------------


def agent_state_patch(lab: ModuleType | None = None) -> bool:
    """A StatePatch on the seed's AgentState merges field by field: facts upserted by key,
    the plan replaced, questions and artifacts appended, risk flags without duplicates,
    the goal a last-value field, the rest untouched; the AgentState itself unchanged."""
    lab = _lab(lab)
    state = seed_state()
    before = copy.deepcopy(state)
    patch = {
        "known_facts": [{"key": "namespace", "value": "staging-eu", "source": "user"},
                        {"key": "service", "value": "X (v2.3.0 running)", "source": "check_status"}],
        "plan": ["Build the config", "Apply the changes", "Check again"],
        "open_questions": "Is a maintenance window needed?",
        "artifacts": [{"artifact_id": "cfg_88", "type": "tool_result.config",
                       "summary": "rendered config", "bytes": 2048}],
        "risk_flags": ["write_local", "budget_pressure", "write_local"],
    }
    expected = {
        **before,
        "known_facts": [patch["known_facts"][1], patch["known_facts"][0]],
        "plan": patch["plan"],
        "open_questions": [*before["open_questions"], patch["open_questions"]],
        "artifacts": [*before["artifacts"], *patch["artifacts"]],
        "risk_flags": ["budget_pressure", "write_local"],
    }
    schema = _attempt(lab.agent_state_schema)
    if schema.error is not None:
        return verdict("agent-state-patch", [f"agent_state_schema() {schema}"], "")
    patched = _attempt(lambda: schema.value.update(state, patch))
    after = patched.value if patched.error is None and isinstance(patched.value, dict) else None
    problems = []
    if after is None:
        problems.append(f"agent_state_schema().update(seed AgentState, patch) {patched}")
    else:
        problems += [f"{key}: {_field(after.get(key))}; expected {_field(value)}"
                     for key, value in expected.items() if not _same(after.get(key), value)]
        extra = sorted(set(after) - set(expected))
        if extra:
            problems.append(f"fields the patch did not hold appeared: {extra}")
    if after is not None and not problems:
        goal = "Deploy service X to production"
        regoaled = _attempt(lambda: schema.value.update(after, {"goal": goal}))
        if not regoaled.returned({**expected, "goal": goal}):
            problems.append(f"then a patch of the goal alone {regoaled}; expected the goal "
                            "replaced and every other field as it was")
    if not _same(state, before):
        problems.append("the patch changed the AgentState it was applied to")
    return verdict("agent-state-patch", problems[:3],
                   "service fact replaced where it stood, namespace added; plan replaced; a "
                   "question and an artifact appended; risk_flags budget_pressure, write_local; "
                   "goal replaced by a later patch; the AgentState unchanged")


def _field(value: Any) -> str:
    """An AgentState field, short: facts as ``key=value``, artifacts by id."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        if all("key" in v for v in value):
            return "[" + ", ".join(f"{v['key']}={v.get('value')!r}" for v in value) + "]"
        if all("artifact_id" in v for v in value):
            return "artifacts " + str([v["artifact_id"] for v in value])
    return short(value, 90)


# -- lab05.ephemeral-cleared -------------------------------------------------------------


def ephemeral_cleared(lab: ModuleType | None = None) -> bool:
    """An ephemeral key written in a step is seen by that step's router and in its view,
    gone from its state, never seen by the next step's node, and absent from the final
    state, including when the last step wrote it."""
    lab = _lab(lab)
    routed: list[Any] = []
    looked: list[Any] = []

    def triage(state: dict[str, Any]) -> dict[str, Any]:
        return {"alerts": ["api p99 2.4 s"], "hint": "restart api-2"}

    def follow_hint(state: dict[str, Any]) -> str:
        routed.append(state.get("hint"))
        return "restart" if str(state.get("hint", "")).startswith("restart") else "page_oncall"

    def restart(state: dict[str, Any]) -> dict[str, Any]:
        looked.append(state.get("hint", "<absent>"))
        return {"alerts": ["api-2 restarted"], "hint": "watch api-2 for 10 min"}

    def page_oncall(state: dict[str, Any]) -> dict[str, Any]:
        return {"alerts": ["paged on-call"]}

    graph = (Graph().add_node("triage", triage).add_node("restart", restart)
             .add_node("page_oncall", page_oncall)
             .add_conditional_edges("triage", follow_hint, ["restart", "page_oncall"])
             .set_entry("triage"))
    ran = _run_graph(lab, graph, lambda: lab.StateSchema().register("alerts", lab.append)
                     .register("hint", ephemeral=True), {"alerts": []})
    problems = []
    if ran.outcome.error is not None:
        problems.append(f"run_graph {ran.outcome}")
    if routed != ["restart api-2"]:
        problems.append(f"the router after triage saw hint={short(routed[0] if routed else None)}; "
                        "expected 'restart api-2' (route on the merged view, then clean up)")
    if looked and looked != ["<absent>"]:
        problems.append(f"restart, the next step's node, saw hint={short(looked[0])}; an "
                        "ephemeral key ends with the step that wrote it")
    for step in ran.steps:
        view = step.view if isinstance(step.view, dict) else {}
        state = step.state if isinstance(step.state, dict) else {}
        if "hint" not in view or "hint" in state:
            problems.append(f"step {step.number} ({', '.join(step.ran)}): hint in the view "
                            f"{'hint' in view}, in the state {'hint' in state}; expected in the "
                            "view (what routing and listeners see) and gone from the state")
    if ran.outcome.error is None and ("hint" in ran.final or len(ran.steps) != 2):
        problems.append(f"the run ended with {short(ran.outcome.value, 80)} after "
                        f"{count(len(ran.steps), 'step')}; expected 2 steps and no hint, though "
                        "the last step wrote one")
    return verdict("ephemeral-cleared", problems[:3],
                   f"the router saw hint {short(routed[0] if routed else None)}; the next step's "
                   f"node saw none; both steps' views held it and their states did not; final "
                   f"alerts {short(ran.final.get('alerts'), 60)}, no hint")


# -- lab05.superstep-isolation -----------------------------------------------------------


def superstep_isolation(lab: ModuleType | None = None) -> bool:
    """Two nodes of one step: collect_cpu writes a key, and changes its own input in place,
    then finishes; collect_mem, finishing after it, must still see the state as the step
    found it. The step's result holds collect_cpu's patch, not its in-place change, and
    the input given to run_graph is unchanged."""
    lab = _lab(lab)
    order = _FinishOrder(["collect_cpu", "collect_mem"])
    saw: dict[str, Any] = {}

    def collect_cpu(state: dict[str, Any]) -> dict[str, Any]:
        state["readings"].append("cpu 88%")  # in place, on its own input
        state["load"] = "high"
        return {"load": "cpu-bound"}

    def collect_mem(state: dict[str, Any]) -> dict[str, Any]:
        saw.update(load=state.get("load"), readings=copy.deepcopy(state.get("readings")))
        return {"mem_report": "mem 41%"}

    graph = (Graph().add_node("collect_cpu", order.node("collect_cpu", collect_cpu))
             .add_node("collect_mem", order.node("collect_mem", collect_mem))
             .set_entry("collect_cpu", "collect_mem"))
    start = {"load": "normal", "readings": ["boot ok"]}
    ran = _run_graph(lab, graph, lab.StateSchema, start)
    problems = []
    found = {"load": "normal", "readings": ["boot ok"]}
    if ran.outcome.error is not None:
        problems.append(f"run_graph {ran.outcome}")
    if saw and saw != found:
        problems.append(
            f"collect_mem, in the same step as collect_cpu and finishing after it, saw "
            f"load={saw['load']!r}, readings={saw['readings']}; expected the state as the step "
            f"found it, load='normal', readings=['boot ok'] (give every node its own deep copy, "
            "and apply no patch before the step ends)")
    wanted = {"load": "cpu-bound", "readings": ["boot ok"], "mem_report": "mem 41%"}
    if ran.outcome.error is None and not _same(ran.final, wanted):
        problems.append(f"after the step: {short(ran.outcome.value, 90)}; expected {wanted} "
                        "(collect_cpu's patch, nothing of its in-place change)")
    if start != {"load": "normal", "readings": ["boot ok"]}:
        problems.append(f"the input given to run_graph became {start}")
    return verdict("superstep-isolation", problems[:3],
                   "collect_mem, finishing after collect_cpu, saw load 'normal' and readings "
                   "['boot ok'], not its sibling's write or in-place change; the final state "
                   "holds the patch only")


# -- lab05.deterministic-merge -----------------------------------------------------------

PROBES = ("probe_ap", "probe_eu", "probe_sa", "probe_us")


def deterministic_merge(lab: ModuleType | None = None) -> bool:
    """Four probes of one step each write their name to one key, whose reducer (written
    here) keeps the order the patches were applied in. Made to finish in reverse name
    order, then mixed, the probes' patches are applied in node-name order both times."""
    lab = _lab(lab)
    problems: list[str] = []
    shown: list[str] = []
    expected = " > ".join(PROBES)
    for finish in (PROBES[::-1], ("probe_eu", "probe_us", "probe_ap", "probe_sa")):
        order = _FinishOrder(finish)
        graph = Graph()
        for name in PROBES:
            graph.add_node(name, order.node(name, lambda state, n=name: {"route": n}))
        graph.set_entry(*PROBES)
        ran = _run_graph(lab, graph, lambda: lab.StateSchema().register("route", _joined), {})
        merged = ran.final.get("route")
        finished = ", ".join(name.removeprefix("probe_") for name in order.finished)
        shown.append(", ".join(name.removeprefix("probe_") for name in finish))
        if ran.outcome.error is not None:
            problems.append(f"finishing as {finished}: run_graph {ran.outcome}")
        elif merged != expected:
            problems.append(
                f"finishing as {finished}: the patches were applied as {merged!r}; expected "
                f"{expected!r} (sorted by node name, whatever order the threads finish in)")
    return verdict("deterministic-merge", problems[:3],
                   f"probes finishing as {shown[0]}, then as {shown[1]}: patches applied as "
                   "ap > eu > sa > us both times")


# -- lab05.conflict-detected -------------------------------------------------------------


def conflict_detected(lab: ModuleType | None = None) -> bool:
    """Two nodes of one step writing a key without a reducer raise the lab's InvalidUpdate
    naming the key, and leave the input as it was; so does ``merge_step`` given two such
    patches. A key with a reducer, a single writer, and one write in each of two steps are
    fine."""
    lab = _lab(lab)
    problems: list[str] = []

    def run(writers: Iterable[str], *, reducer: Any = None,
            then: bool = False) -> tuple[Ran, dict[str, Any]]:
        """scale_down and scale_up in one step (or, with ``then``, scale_up and then
        settle), ``writers`` writing replicas; the run and the state it was given."""
        wanted = set(writers)
        graph = Graph()
        for name, replicas in (("scale_down", 2), ("scale_up", 6)):
            graph.add_node(name, lambda state, n=name, r=replicas: (
                {"replicas": r, "events": [n]} if n in wanted else {"events": [n]}))
        graph.add_node("settle", lambda state: {"replicas": 4, "events": ["settle"]})
        if then:
            graph.add_edge("scale_up", "settle").set_entry("scale_up")
        else:
            graph.set_entry("scale_down", "scale_up")
        def schema() -> Any:
            made = lab.StateSchema().register("events", _listed)
            return made if reducer is None else made.register("replicas", reducer)

        start = {"replicas": 3, "events": []}
        return _run_graph(lab, graph, schema, start), start

    both, start = run(("scale_down", "scale_up"))
    if not both.outcome.raised(lab.InvalidUpdate, "replicas"):
        problems.append(
            f"scale_down and scale_up both wrote 'replicas' (no reducer) in one step: run_graph "
            f"{both.outcome}; expected your InvalidUpdate naming 'replicas' (LangGraph's rule; "
            "langgraphgo silently keeps one)")
    if start != {"replicas": 3, "events": []}:
        problems.append(f"the failed run changed the state it was given into {start}")
    direct = _attempt(lambda: lab.StateSchema().merge_step(
        {"replicas": 3}, {"scale_z": {"replicas": 5}, "scale_a": {"replicas": 1}}))
    if not direct.raised(lab.InvalidUpdate, "replicas"):
        problems.append(f"merge_step with two patches of 'replicas': {direct}; expected your "
                        "InvalidUpdate naming 'replicas'")
    fine = {
        "a reducer on replicas (the larger value)": (run(("scale_down", "scale_up"), reducer=_peak)[0], 6),
        "one writer in the step": (run(("scale_down",))[0], 2),
        "one write in each of two steps": (run(("scale_up",), then=True)[0], 4),
    }
    for what, (ran, replicas) in fine.items():
        if ran.outcome.error is not None or ran.final.get("replicas") != replicas:
            problems.append(f"{what}: run_graph {ran.outcome}; expected replicas={replicas}, "
                            "no conflict")
    error = both.outcome.error
    said = str(error) if len(str(error)) <= 64 else str(error)[:61] + "..."
    return verdict("conflict-detected", problems[:3],
                   f"two writers in one step: {type(error).__name__}: {said}; merge_step too; a "
                   "reducer key, one writer, one write a step: no conflict")


# -- lab05.llm-node-messages -------------------------------------------------------------

SEARCH, RELEASE = {"service": "search"}, {"service": "search", "version": "3.1.0"}
ANSWER = "search 3.1.0 is deployed and healthy."


def llm_node_messages(lab: ModuleType | None = None) -> bool:
    """An agent node looping on the mocked LLM (one tool, then two, then the answer) adds
    each reply, with its completion's id, and each tool result, linked by tool_call_id,
    through add_messages; it returns only the new messages, leaves the state it is given
    alone, and sends the model no ids."""
    lab = _lab(lab)
    script = [
        reply(tool_calls=[tool_call("check_status", SEARCH, id="call_st7")]),
        reply(tool_calls=[tool_call("apply_deploy", RELEASE, id="call_ap7"),
                          tool_call("verify", SEARCH, id="call_vf7")]),
        reply(ANSWER),
    ]
    tools = DevOpsTools()
    patches: list[Any] = []
    touched: list[bool] = []
    with GuardedLLM(script) as llm:
        made = _attempt(lambda: lab.make_agent_node(llm.client(max_retries=0), tools))
        if made.error is not None:
            return verdict("llm-node-messages", [f"make_agent_node {made}"], "")

        def model(state: dict[str, Any]) -> Any:
            before = copy.deepcopy(state)
            patch = made.value(state)
            touched.append(not _same(state, before))
            patches.append(copy.deepcopy(patch))
            return patch

        def again(state: dict[str, Any]) -> str:
            return "model" if state["messages"][-1].get("role") == "tool" else END

        graph = (Graph().add_node("model", model)
                 .add_conditional_edges("model", again, ["model"]).set_entry("model"))
        system, user = start_messages("Roll search out to 3.1.0, then verify it.")
        ran = _run_graph(lab, graph, lab.agent_state_schema,
                         {"messages": [system, {**user, "id": "u-1"}]})
        sent = [request.messages for request in llm.requests]
    if ran.outcome.error is not None:
        return verdict("llm-node-messages", [f"the agent graph: run_graph {ran.outcome}"], "")
    problems = _conversation_problems(ran)
    sizes = [len(p.get("messages", [])) if isinstance(p, dict) else None for p in patches]
    if sizes != [2, 3, 1] or any(isinstance(p, dict) and set(p) != {"messages"} for p in patches):
        problems.append(
            f"the node's patches held {sizes} messages (keys "
            f"{sorted({k for p in patches if isinstance(p, dict) for k in p})}); expected 2, 3 "
            "and 1 under 'messages' alone: the new reply and its tool results, never the "
            "history (add_messages would append its id-less messages again)")
    if any(touched):
        problems.append("the node changed the state it was given; it returns a patch instead")
    with_ids = sum(1 for messages in sent for message in messages if "id" in message)
    if with_ids or len(sent) != 3:
        problems.append(f"{count(len(sent), 'request')} reached the model, {with_ids} messages "
                        "in them with an 'id'; expected 3 requests and no id (use for_the_api)")
    runs = dict(sorted((name, n) for name, n in tools.calls.items() if n))
    if runs != {"apply_deploy": 1, "check_status": 1, "verify": 1}:
        problems.append(f"the tools ran {runs}; expected check_status, apply_deploy and verify "
                        "once each")
    return verdict("llm-node-messages", problems[:3],
                   f"3 turns: {len(ran.final.get('messages', []))} messages, replies with ids "
                   "chatcmpl-fake-1..3, results linked to call_st7, call_ap7, call_vf7; patches "
                   f"of 2, 3, 1 messages; no id sent to the model")


def _conversation_problems(ran: Ran) -> list[str]:
    """What is wrong with the conversation the agent graph ended with."""
    messages = ran.final.get("messages") or []
    roles = [m.get("role") if isinstance(m, dict) else type(m).__name__ for m in messages]
    expected = ["system", "user", "assistant", "tool", "assistant", "tool", "tool", "assistant"]
    if roles != expected:
        return [f"after 3 turns the conversation holds {roles}; expected {expected}"]
    problems = []
    replies = [messages[i] for i in (2, 4, 7)]
    ids = [m.get("id") for m in replies]
    if ids != ["chatcmpl-fake-1", "chatcmpl-fake-2", "chatcmpl-fake-3"]:
        problems.append(f"the replies carry ids {ids}; expected their completions' ids "
                        "chatcmpl-fake-1..3 (add_messages upserts by them)")
    calls = [c.get("id") for m in replies for c in m.get("tool_calls") or []]
    linked = [messages[i].get("tool_call_id") for i in (3, 5, 6)]
    if not calls == linked == ["call_st7", "call_ap7", "call_vf7"]:
        problems.append(f"tool calls {calls}, tool results linked to {linked}; expected both "
                        "call_st7, call_ap7, call_vf7")
    if messages[7].get("content") != ANSWER:
        problems.append(f"the last reply says {short(messages[7].get('content'))}; expected "
                        f"{ANSWER!r}")
    return problems


#: Every lab 05 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    overwrite_reducer,
    append_reducer,
    add_messages_upsert,
    schema_update,
    agent_state_patch,
    ephemeral_cleared,
    superstep_isolation,
    deterministic_merge,
    conflict_detected,
    llm_node_messages,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 05 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
