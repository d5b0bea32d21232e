"""Lab 05 scenarios: reducers on their own, a schema, the seed's AgentState, and graphs
whose parallel nodes finish in an order the scenario chooses."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

from grader.observe import describe_error, outcome, plain, required
from grader.scenarios import Registry
from labs.kit.agent import start_messages
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import FakeLLM, reply, tool_call
from labs.kit.graph import END, Graph
from labs.kit.state import RemoveMessage, seed_state

SCENARIOS = Registry()
#: Real seconds a node waits for the sibling it is told to finish after. A runner that
#: does not run a step's nodes side by side makes it wait this long, then go on.
HOLD = 1.0


def _raised(error: BaseException, lab: ModuleType) -> dict[str, Any]:
    seen = describe_error(error)
    seen["is_invalid_update"] = isinstance(error, lab.InvalidUpdate)
    return seen


def _reducer(lab: ModuleType, name: str, current: Any, new: Any,
             keep: Callable[[Any], Any] = plain) -> dict[str, Any]:
    """``lab.<name>(current, new)``: what it returned, and whether it changed an input or
    handed one back as its result."""
    function = required(lambda: getattr(lab, name))
    before = copy.deepcopy((current, new))
    box: list[Any] = []

    def call() -> Any:
        box.append(function(current, new))
        return box[-1]

    seen = outcome(call, keep=keep, describe=lambda e: _raised(e, lab))
    seen["changed_its_input"] = plain((current, new)) != plain(before)
    seen["aliases_an_input"] = bool(box) and isinstance(box[0], list) and any(
        box[0] is value for value in (current, new))
    return seen


@SCENARIOS.scenario
def overwrite(lab: ModuleType) -> list[dict[str, Any]]:
    """overwrite on values of every kind."""
    return [_reducer(lab, "overwrite", current, new) for current, new in
            ((3, 8), ("draft", "final"), ([1, 2], [9]), (None, {"k": 1}), ({"k": 1}, None))]


@SCENARIOS.scenario
def append(lab: ModuleType) -> dict[str, Any]:
    """append on every kind of pair."""
    return {
        name: _reducer(lab, "append", current, new) for name, (current, new) in {
            "missing_and_list": (None, ["disk full"]),
            "missing_and_item": (None, "disk full"),
            "list_and_list": (["a", "b"], ["c", "d"]),
            "list_and_item": (["a"], "b"),
            "item_and_item": ("a", "b"),
            "item_and_list": ("a", ["b", "c"]),
            "empty_and_empty": ([], []),
            "dicts": ([{"k": 1}], {"k": 2}),
        }.items()
    }


@dataclass
class _Message:
    id: str | None
    content: str


@SCENARIOS.scenario
def messages(lab: ModuleType) -> dict[str, Any]:
    """add_messages: upserts, appends, removals, an unknown removal, objects with ids."""
    conversation = [
        {"id": "m1", "role": "user", "content": "free the disk"},
        {"id": "m2", "role": "assistant", "content": "checking"},
        {"role": "tool", "content": "97%"},
        {"id": "m3", "role": "assistant", "content": "cleaning"},
    ]
    cases = {
        "upsert_in_place": (conversation, [{"id": "m2", "role": "assistant",
                                            "content": "disk at 97%"}]),
        "append_new_and_idless": (conversation, [{"id": "m4", "role": "user", "content": "thanks"},
                                                 {"role": "tool", "content": "done"}]),
        "one_message": (conversation, {"id": "m1", "role": "user", "content": "free it now"}),
        "to_nothing": (None, [{"id": "m1", "role": "user", "content": "hi"}]),
        "remove": (conversation, [RemoveMessage("m2")]),
        "remove_then_add": (conversation, [RemoveMessage("m3"),
                                           {"id": "m3", "role": "assistant", "content": "again"}]),
        "remove_unknown": (conversation, [RemoveMessage("m9")]),
        "same_id_twice": (conversation, [{"id": "m5", "content": "a"},
                                         {"id": "m5", "content": "b"}]),
        "empty_id": ([{"id": "", "content": "x"}], [{"id": "", "content": "y"}]),
    }
    seen = {name: _reducer(lab, "add_messages", current, new)
            for name, (current, new) in cases.items()}
    objects = [_Message("o1", "first"), _Message(None, "no id"), _Message("o2", "second")]
    seen["objects"] = _reducer(
        lab, "add_messages", objects,
        [_Message("o1", "FIRST"), SimpleNamespace(id="o3", content="third"), RemoveMessage("o2")],
        keep=lambda result: [plain(getattr(m, "content", m)) for m in result]
        if isinstance(result, list) else plain(result),
    )
    return seen


class _Counted:
    """A message object that counts how often its id is read."""

    reads = [0]

    def __init__(self, key: str | None, content: str) -> None:
        self._key, self.content = key, content

    @property
    def id(self) -> str | None:
        _Counted.reads[0] += 1
        return self._key


@SCENARIOS.scenario
def messages_at_scale(lab: ModuleType) -> dict[str, Any]:
    """add_messages on 1,000 and 4,000 messages (half of the patch edits, half is new),
    counting how often a message's id is read: a linear merge reads each a few times."""
    add = required(lambda: lab.add_messages)
    seen: dict[str, Any] = {}
    for size in (1000, 4000):
        current = [_Counted(f"m{n}", f"message {n}") for n in range(size)]
        new = [_Counted(f"m{n}", f"edited {n}") for n in range(0, size, 2)]
        new += [_Counted(f"x{n}", f"new {n}") for n in range(size // 2)]
        _Counted.reads[0] = 0
        result = outcome(lambda: add(current, new),
                         keep=lambda merged: len(merged) if isinstance(merged, list) else None,
                         describe=lambda e: _raised(e, lab))
        seen[str(size)] = {**result, "id_reads": _Counted.reads[0], "messages": size * 2}
    return seen


@SCENARIOS.scenario
def schema_update(lab: ModuleType) -> dict[str, Any]:
    """A schema with reducers on some keys, updated; registered twice; chained."""

    def observe() -> dict[str, Any]:
        schema = lab.StateSchema()
        chained = schema.register("log", lab.append) is schema
        schema.register("count", lambda current, new: (current or 0) + new)
        schema.register("mode", lab.append)
        schema.register("mode", None)  # a last-value key again
        current = {"log": ["start"], "count": 2, "mode": "fast", "other": {"nested": [1]}}
        before = copy.deepcopy(current)
        updated = schema.update(current, {"log": ["step 1"], "count": 5, "mode": "slow",
                                          "fresh": True})
        return {
            "chained": chained,
            "init": plain(schema.init()),
            "updated": plain(updated),
            "unchanged": plain(current) == plain(before),
            "same_object": updated is current,
            "nested_shared": isinstance(updated, dict) and updated.get("other") is current["other"],
        }

    return outcome(observe, describe=lambda e: _raised(e, lab))


@SCENARIOS.scenario
def reregister(lab: ModuleType) -> dict[str, Any]:
    """A key registered ephemeral, then registered again without ``ephemeral``; and one
    left ephemeral: what cleanup keeps."""

    def observe() -> Any:
        schema = lab.StateSchema()
        schema.register("scratch", ephemeral=True)
        schema.register("scratch", lab.append)  # registered again: not ephemeral any more
        schema.register("note", ephemeral=True)
        return schema.cleanup({"scratch": ["kept"], "note": "gone", "log": ["x"]})

    return outcome(observe, describe=lambda e: _raised(e, lab))


@SCENARIOS.scenario
def agent_state(lab: ModuleType) -> dict[str, Any]:
    """A StatePatch on the seed's AgentState."""
    state = seed_state()
    patch = {
        "known_facts": [{"key": "service", "value": "X-api", "source": "check_status"},
                        {"key": "namespace", "value": "staging-2", "source": "user"}],
        "plan": ["Build the config", "Apply the changes"],
        "open_questions": ["Roll back on failure?"],
        "artifacts": {"artifact_id": "diff_7", "type": "tool_result.diff",
                      "summary": "config diff", "bytes": 912},
        "risk_flags": ["budget_pressure", "external_action"],
        "goal": "Deploy service X to staging, then to production",
    }
    before = copy.deepcopy(state)

    def observe() -> Any:
        schema = lab.agent_state_schema()
        return schema.update(state, patch)

    seen = outcome(observe, describe=lambda e: _raised(e, lab))
    seen["unchanged"] = plain(state) == plain(before)
    return seen


# -- graphs -----------------------------------------------------------------------------


class _Order:
    """Makes the nodes of a step finish in a chosen order: each waits (up to HOLD real
    seconds) until the thread of the node before it has ended, so that its result is the
    first handed back."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.started = {name: threading.Event() for name in order}
        self.threads: dict[str, threading.Thread] = {}
        self.finished: list[str] = []
        self._lock = threading.Lock()

    def node(self, name: str,
             patch: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
        def run(state: dict[str, Any]) -> dict[str, Any]:
            self.threads[name] = threading.current_thread()
            self.started[name].set()
            position = self.order.index(name)
            if position:
                before = self.order[position - 1]
                if self.started[before].wait(HOLD):
                    thread = self.threads[before]
                    if thread is not threading.current_thread():  # a runner without threads
                        thread.join(HOLD)
            result = patch(state)
            with self._lock:
                self.finished.append(name)
            return result

        return run


def _run(lab: ModuleType, graph: Graph, schema: Any, state_in: dict[str, Any],
         steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    def listener(result: Any) -> None:
        if steps is not None:
            steps.append({
                "step": plain(getattr(result, "step", None)),
                "ran": plain(list(getattr(result, "ran", ()))),
                "next": plain(list(getattr(result, "next", ()))),
                "state": plain(getattr(result, "state", None)),
                "view": plain(getattr(result, "view", None)),
            })

    return outcome(lambda: lab.run_graph(graph, schema, state_in, listeners=[listener]),
                   describe=lambda e: _raised(e, lab))


def _ticks(rounds: int) -> Graph:
    """One node, ``tick``, that counts; its router sends it round again until the count
    reaches ``rounds``: a run of exactly ``rounds`` steps from ``{"count": 0}``."""
    return (Graph().add_node("tick", lambda state: {"count": state["count"] + 1})
            .add_conditional_edges("tick", lambda state: "tick" if state["count"] < rounds
                                   else END, ["tick"])
            .set_entry("tick"))


def _counted(lab: ModuleType, rounds: int, max_steps: int | None) -> dict[str, Any]:
    """run_graph on :func:`_ticks` (``max_steps`` not passed when None): what it returned
    or raised, and the step numbers its listener heard."""
    heard: list[Any] = []
    options = {} if max_steps is None else {"max_steps": max_steps}

    def listener(result: Any) -> None:
        heard.append(plain(getattr(result, "step", None)))

    seen = outcome(lambda: lab.run_graph(_ticks(rounds), lab.StateSchema(), {"count": 0},
                                         listeners=[listener], **options),
                   describe=lambda e: _raised(e, lab))
    seen["steps_heard"] = heard
    return seen


@SCENARIOS.scenario
def step_loop(lab: ModuleType) -> dict[str, Any]:
    """Runs of 3, 10, 25 and 26 steps, with max_steps 3 or the default; and run_step alone,
    with no step number given."""
    cases = {
        "three": _counted(lab, 3, None),
        "ten_of_max_3": _counted(lab, 10, 3),
        "three_of_max_3": _counted(lab, 3, 3),
        "25_of_default": _counted(lab, 25, None),
        "26_of_default": _counted(lab, 26, None),
    }

    def alone() -> dict[str, Any]:
        result = lab.run_step(_ticks(3), lab.StateSchema(), {"count": 0}, ["tick"])
        return {"step": plain(getattr(result, "step", None)),
                "ran": plain(list(getattr(result, "ran", ()))),
                "next": plain(list(getattr(result, "next", ())))}

    cases["run_step_alone"] = outcome(alone, describe=lambda e: _raised(e, lab))
    return cases


@SCENARIOS.scenario
def ephemeral(lab: ModuleType) -> dict[str, Any]:
    """A scan writes an ephemeral note that its router reads; the next step's node looks
    for it; a last step writes another one."""
    routed: list[Any] = []
    looked: list[Any] = []

    def scan(state: dict[str, Any]) -> dict[str, Any]:
        return {"scratch": "disk at 97%: clean first", "findings": ["disk 97%"]}

    def route(state: dict[str, Any]) -> str:
        routed.append(plain(state.get("scratch")))
        return "clean"

    def clean(state: dict[str, Any]) -> dict[str, Any]:
        looked.append(plain(state.get("scratch", "<absent>")))
        return {"findings": ["cleaned"], "scratch": "cleaned: 77%"}

    graph = (Graph().add_node("scan", scan).add_node("clean", clean)
             .add_conditional_edges("scan", route, ["clean"]).add_edge("clean", END)
             .set_entry("scan"))
    schema = required(lambda: lab.StateSchema().register("findings", lab.append)
                      .register("scratch", ephemeral=True))
    steps: list[dict[str, Any]] = []
    seen = _run(lab, graph, schema, {"findings": []}, steps)
    seen.update(router_saw=routed, next_node_saw=looked, steps=steps)
    return seen


@SCENARIOS.scenario
def isolation(lab: ModuleType) -> dict[str, Any]:
    """Two nodes in one step: alpha writes a key and changes its own input in place, then
    beta (finishing after alpha) reports what it saw."""
    order = _Order(["alpha", "beta"])
    saw: dict[str, Any] = {}

    def alpha(state: dict[str, Any]) -> dict[str, Any]:
        state["notes"].append("alpha was here")  # in place, on its own copy
        state["level"] = 99
        return {"level": 1}

    def beta(state: dict[str, Any]) -> dict[str, Any]:
        saw.update(level=plain(state.get("level")), notes=plain(list(state.get("notes", []))))
        return {"report": f"beta saw level {state.get('level')}"}

    graph = (Graph().add_node("alpha", order.node("alpha", alpha))
             .add_node("beta", order.node("beta", beta)).set_entry("alpha", "beta"))
    schema = required(lambda: lab.StateSchema())
    state_in = {"level": 0, "notes": ["start"]}
    seen = _run(lab, graph, schema, state_in)
    seen.update(beta_saw=saw, finished=order.finished, input_after=plain(state_in))
    return seen


@SCENARIOS.scenario
def merge_order(lab: ModuleType) -> dict[str, Any]:
    """Three nodes of one step write a reducer key and an overwrite key; they finish in
    reverse name order, then in another order."""
    runs = {}
    for label, finish in (("reverse", ["gamma", "beta", "alpha"]),
                          ("mixed", ["beta", "gamma", "alpha"])):
        order = _Order(finish)
        graph = Graph()
        for name in ("alpha", "beta", "gamma"):
            graph.add_node(name, order.node(
                name, lambda state, n=name: {"log": [f"{n} done"], "winner": n}))
        graph.set_entry("alpha", "beta", "gamma")
        schema = required(lambda: lab.StateSchema().register("log", lab.append)
                          .register("winner", lab.overwrite))
        seen = _run(lab, graph, schema, {"log": []})
        seen["finished"] = order.finished
        runs[label] = seen
    return runs


@SCENARIOS.scenario
def conflicts(lab: ModuleType) -> dict[str, Any]:
    """Two nodes writing one last-value key in a step; and the same with a reducer, and
    with only one writer. merge_step alone: two writes to a last-value key, with a None
    patch sorted first, or with a reducer key first in each patch; a list as a patch."""
    cases = {}
    for label, reducer, writers in (("two_writers", None, ("deploy", "verify")),
                                    ("with_reducer", "append", ("deploy", "verify")),
                                    ("one_writer", None, ("deploy",))):
        graph = Graph().add_node("deploy", lambda s: {"status": "deployed", "log": ["d"]})
        graph.add_node("verify", lambda s: {"status": "verified", "log": ["v"]}
                       if "verify" in writers else {"log": ["v"]})
        graph.set_entry("deploy", "verify")
        schema = required(lambda: lab.StateSchema().register("log", lab.append))
        if reducer is not None:
            schema.register("status", getattr(lab, reducer))
        state_in = {"status": "new", "log": []}
        seen = _run(lab, graph, schema, state_in)
        seen["input_after"] = plain(state_in)
        cases[label] = seen
    direct = outcome(lambda: lab.StateSchema().merge_step(
        {"status": "new"}, {"zeta": {"status": "z"}, "alpha": {"status": "a"}}),
        describe=lambda e: _raised(e, lab))
    cases["merge_step"] = direct
    cases["after_a_none_patch"] = outcome(lambda: lab.StateSchema().merge_step(
        {"status": "new"},
        {"alpha": None, "deploy": {"status": "deployed"}, "verify": {"status": "verified"}}),
        describe=lambda e: _raised(e, lab))
    cases["reducer_key_first"] = outcome(
        lambda: lab.StateSchema().register("log", lab.append).merge_step(
            {"status": "new", "log": []},
            {"deploy": {"log": ["d"], "status": "deployed"},
             "verify": {"log": ["v"], "status": "verified"}}),
        describe=lambda e: _raised(e, lab))
    cases["not_a_patch"] = outcome(lambda: lab.StateSchema().merge_step(
        {"status": "new"}, {"alpha": {"level": 1}, "broken": ["status", "checked"]}),
        describe=lambda e: _raised(e, lab))
    return cases


@SCENARIOS.scenario
def llm_node(lab: ModuleType) -> dict[str, Any]:
    """An agent node in a loop: the model asks for two tools, then answers."""
    script = [
        reply(tool_calls=[tool_call("check_disk", id="call_d1"),
                          tool_call("clean_logs", id="call_c1")], prompt_tokens=40),
        reply("Cleaned the logs: the disk is at 75%."),
    ]
    tools = DevOpsTools()
    with FakeLLM(script) as llm:
        node = required(lambda: lab.make_agent_node(llm.client(max_retries=0), tools))

        def route(state: dict[str, Any]) -> str:
            return "agent" if state["messages"][-1].get("role") == "tool" else END

        graph = (Graph().add_node("agent", node).add_conditional_edges("agent", route, ["agent"])
                 .set_entry("agent"))
        schema = required(lambda: lab.agent_state_schema())
        system, user = start_messages("Free the disk")
        first = [system, {**user, "id": "m1"}]  # the system prompt has no id
        seen = _run(lab, graph, schema, {"messages": first})
        seen["sent"] = [
            [{key: plain(value) for key, value in m.items() if key != "tool_calls"}
             for m in request.messages]
            for request in llm.requests
        ]
        seen["offered"] = [_tool_names(request.body) for request in llm.requests]
        seen["tool_runs"] = dict(sorted(tools.calls.items()))
    return seen


def _tool_names(body: dict[str, Any]) -> list[Any] | None:
    """The names of the tools a request offered, or None when it offered none."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return [plain((t.get("function") or {}).get("name")) if isinstance(t, dict) else None
            for t in tools]
