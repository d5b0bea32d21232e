"""Lab 05 — Reducers and ephemeral channels (reference solution).

The contract is the stub's, ``labs/lab05_reducers.py``; read it there.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from openai import OpenAI

from labs.kit.agent import assistant_message, for_the_api, tool_message
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.graph import Graph, Node, Patch, State, run_in_parallel
from labs.kit.state import RemoveMessage

Reducer = Callable[[Any, Any], Any]
Listener = Callable[["StepResult"], None]


class InvalidUpdate(ValueError):
    """A patch that cannot be applied: two writes to a last-value key in one step, a
    removal of a message that is not there, a node returning something that is not a
    patch. The message names the key, message or node."""


@dataclass(frozen=True)
class StepResult:
    """One step of a graph run, as it ended."""

    step: int
    ran: tuple[str, ...]
    next: tuple[str, ...]
    state: State
    view: State


def overwrite(current: Any, new: Any) -> Any:
    """The new value replaces the current one."""
    return new


def append(current: Any, new: Any) -> list[Any]:
    """The current value, then the new one, as one new list."""
    head = [] if current is None else list(current) if isinstance(current, list) else [current]
    return head + (list(new) if isinstance(new, list) else [new])


def unique(current: Any, new: Any) -> list[Any]:
    """:func:`append`, leaving out what is already there."""
    result: list[Any] = []
    for item in append(current, new):
        if item not in result:
            result.append(item)
    return result


def upsert_by_key(current: Any, new: Any) -> list[Any]:
    """Records (dicts with a ``key``): a known key is replaced where it stands, a new one
    appended."""
    result = append(current, [])
    where = {record["key"]: index for index, record in enumerate(result)}
    for record in new if isinstance(new, list) else [new]:
        if record["key"] in where:
            result[where[record["key"]]] = record
        else:
            where[record["key"]] = len(result)
            result.append(record)
    return result


_GONE = object()


def add_messages(current: Any, new: Any) -> list[Any]:
    """Messages upserted by id, appended without one, deleted by a RemoveMessage."""
    result = append(current, [])
    where: dict[Any, int] = {}
    for index, message in enumerate(result):
        key = _message_id(message)
        if key is not None:
            where[key] = index
    for message in new if isinstance(new, list) else [new]:
        if isinstance(message, RemoveMessage):
            if message.id not in where:
                raise InvalidUpdate(f"cannot remove message {message.id!r}: no such message")
            result[where.pop(message.id)] = _GONE
            continue
        key = _message_id(message)
        if key is not None and key in where:
            result[where[key]] = message
        else:
            if key is not None:
                where[key] = len(result)
            result.append(message)
    return [message for message in result if message is not _GONE]


def _message_id(message: Any) -> Any:
    key = message.get("id") if isinstance(message, Mapping) else getattr(message, "id", None)
    return key if key not in (None, "") else None


class StateSchema:
    """The state's keys: each one's reducer, and which ones are ephemeral."""

    def __init__(self) -> None:
        self.reducers: dict[str, Reducer] = {}
        self.ephemeral: set[str] = set()

    def register(self, key: str, reducer: Reducer | None = None, *,
                 ephemeral: bool = False) -> "StateSchema":
        """Give ``key`` a reducer (None: a last-value key) and mark it ephemeral or not."""
        if reducer is None:
            self.reducers.pop(key, None)
        else:
            self.reducers[key] = reducer
        if ephemeral:
            self.ephemeral.add(key)
        else:
            self.ephemeral.discard(key)
        return self

    def init(self) -> State:
        """The state before anything is written: empty."""
        return {}

    def update(self, current: Mapping[str, Any], patch: Patch) -> State:
        """``current`` with ``patch`` applied, key by key, as a new dict."""
        state = dict(current)
        for key, value in patch.items():
            reducer = self.reducers.get(key)
            state[key] = value if reducer is None else reducer(state.get(key), value)
        return state

    def merge_step(self, current: Mapping[str, Any],
                   patches: Mapping[str, Patch | None]) -> State:
        """The patches of one step's nodes, applied in node-name order."""
        written: dict[str, str] = {}
        for node in sorted(patches):
            patch = patches[node]
            if patch is None:
                continue
            if not isinstance(patch, Mapping):
                raise InvalidUpdate(f"node {node!r} returned {type(patch).__name__}, not a patch")
            for key in patch:
                if key in self.reducers:
                    continue
                if key in written:
                    raise InvalidUpdate(
                        f"key {key!r} was written by {written[key]!r} and {node!r} in one step; "
                        "a key without a reducer takes one write a step"
                    )
                written[key] = node
        state = dict(current)
        for node in sorted(patches):
            state = self.update(state, patches[node] or {})
        return state

    def cleanup(self, state: Mapping[str, Any]) -> State:
        """``state`` without its ephemeral keys, as a new dict."""
        return {key: value for key, value in state.items() if key not in self.ephemeral}


def agent_state_schema() -> StateSchema:
    """The schema of the seed's AgentState."""
    return (
        StateSchema()
        .register("plan", overwrite)
        .register("known_facts", upsert_by_key)
        .register("open_questions", append)
        .register("artifacts", append)
        .register("risk_flags", unique)
        .register("messages", add_messages)
    )


def run_step(graph: Graph, schema: StateSchema, state: State, nodes: Sequence[str], *,
             step: int = 1) -> StepResult:
    """Run ``nodes`` as one step: in parallel, each on the state as the step found it."""
    ran = tuple(sorted(set(nodes)))
    calls = {name: partial(graph.nodes[name], copy.deepcopy(state)) for name in ran}
    patches = dict(run_in_parallel(calls))
    view = schema.merge_step(state, patches)
    following = tuple(sorted({target for name in ran for target in graph.successors(name, view)}))
    return StepResult(step=step, ran=ran, next=following, state=schema.cleanup(view), view=view)


def run_graph(graph: Graph, schema: StateSchema, input: Patch, *,
              listeners: Iterable[Listener] = (), max_steps: int = 25) -> State:
    """Run the graph from its entry points until no node is left to run."""
    state = schema.cleanup(schema.update(schema.init(), input))
    nodes: Sequence[str] = graph.entry
    step = 0
    while nodes:
        step += 1
        if step > max_steps:
            raise RecursionError(f"the graph was still running after {max_steps} steps")
        result = run_step(graph, schema, state, nodes, step=step)
        for listener in listeners:
            listener(result)
        state, nodes = result.state, result.next
    return state


def make_agent_node(client: OpenAI, tools: DevOpsTools, *, model: str = DEFAULT_MODEL) -> Node:
    """A node that asks the model once and runs the tools it asks for."""

    def agent(state: State) -> Patch:
        completion = client.chat.completions.create(
            model=model, messages=for_the_api(state.get("messages", [])),  # type: ignore[arg-type]
            tools=list(TOOL_SCHEMAS),  # type: ignore[arg-type]
        )
        reply = completion.choices[0].message
        said = {**assistant_message(reply), "id": completion.id}
        results = [
            {**tool_message(call.id, tools.execute(call.function.name, call.function.arguments)),
             "id": f"{call.id}:result"}
            for call in reply.tool_calls or ()
        ]
        return {"messages": [said, *results]}

    return agent
