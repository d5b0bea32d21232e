"""Lab 05 — Reducers and ephemeral channels.

An agent's state is written by many hands: a planner replaces the plan, a tool adds a
fact, two nodes running side by side both add messages. Whether their writes add up or
overwrite each other, and what each of them sees, is the state's *semantics*. This lab
writes them, after langgraphgo's ``StateSchema`` and LangGraph's channels:

- **Reducers** say how a key takes a new value: :func:`overwrite`, :func:`append`,
  :func:`unique`, :func:`upsert_by_key`, and :func:`add_messages`, which upserts messages
  by id and deletes on a ``RemoveMessage`` marker.
- **A schema** (:class:`StateSchema`, langgraphgo's MapSchema) gives each key its reducer;
  a key without one is a *last-value* key. Some keys are *ephemeral*: they live for one
  step only.
- **The seed's AgentState** (chapter step 0) as such a schema, so that a StatePatch merges
  field by field (:func:`agent_state_schema`).
- **A step** (:func:`run_step`, a "superstep"): the nodes of one step run in parallel,
  each on the state *as the step found it*; their patches merge in a fixed order (sorted
  by node name), never in the order the threads happen to finish; two writes to one
  last-value key in a step are an error (LangGraph's rule; langgraphgo silently keeps
  one); routing sees the merged state, ephemeral keys included; then the ephemeral keys
  are removed, so the next step's nodes never see them.
- **A run** (:func:`run_graph`) is steps until no node is left, and an LLM node
  (:func:`make_agent_node`) adds its reply and tool results to ``messages`` through
  :func:`add_messages`.

What is given and what is yours. The kit gives the graph's *shape* (``labs.kit.graph``:
nodes, edges, routers, entry points, a Mermaid drawing) and the plumbing that runs a
step's nodes in threads (``run_in_parallel``, which returns results in the order they
*finish*); the seed's AgentState and StatePatch as types and the ``RemoveMessage`` marker
(``labs.kit.state``); and the exceptions and records below. Everything that gives a step
its meaning is yours. Lab 06 builds its checkpoints on your :func:`run_step` and
:class:`StepResult` (the grader uses the reference lab 05 there).

Complete every function and method that raises ``NotImplementedError``; keep the names
and signatures. No reducer, schema method or step ever changes a value it was given: it
returns new ones.
"""

from __future__ import annotations

import copy  # noqa: F401 - for your solution
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial  # noqa: F401 - for your solution
from typing import Any

from openai import OpenAI

from labs.kit.agent import assistant_message, for_the_api, tool_message  # noqa: F401
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools  # noqa: F401
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.graph import Graph, Node, Patch, State, run_in_parallel  # noqa: F401
from labs.kit.state import RemoveMessage  # noqa: F401 - for your solution

Reducer = Callable[[Any, Any], Any]
Listener = Callable[["StepResult"], None]


class InvalidUpdate(ValueError):
    """A patch that cannot be applied: two writes to a last-value key in one step, a
    removal of a message that is not there, a node returning something that is not a
    patch. The message names the key, message or node. Given."""


@dataclass(frozen=True)
class StepResult:
    """One step of a graph run, as it ended. Given.

    - ``step``: its number, from 1;
    - ``ran``: the nodes that ran, sorted by name;
    - ``next``: the nodes to run in the next step, sorted by name (empty: the run is over);
    - ``state``: the state after the step, ephemeral keys removed (what the next step
      and a checkpoint get);
    - ``view``: the state after the step *before* the ephemeral keys were removed (what
      the step's routing and its listeners see).
    """

    step: int
    ran: tuple[str, ...]
    next: tuple[str, ...]
    state: State
    view: State


# -- reducers ---------------------------------------------------------------------------


def overwrite(current: Any, new: Any) -> Any:
    """The new value replaces the current one."""
    raise NotImplementedError("overwrite")


def append(current: Any, new: Any) -> list[Any]:
    """The current value, then the new one, as one new list.

    ``current`` None (the key is not there yet) counts as empty. A list contributes its
    items, anything else itself: ``append(None, [1])`` is ``[1]``, ``append([1], [2, 3])``
    ``[1, 2, 3]``, ``append([1], 2)`` ``[1, 2]``, ``append(1, 2)`` ``[1, 2]``. Neither
    input is changed.
    """
    raise NotImplementedError("append")


def unique(current: Any, new: Any) -> list[Any]:
    """Like :func:`append`, leaving out any item already in the result (the first one
    stays where it is): the AgentState's ``risk_flags``."""
    raise NotImplementedError("unique")


def upsert_by_key(current: Any, new: Any) -> list[Any]:
    """For records (dicts) with a ``"key"``: a new record whose key is already there
    replaces that record where it stands; a record with a new key is appended. ``new``
    is one record or a list of them. The AgentState's ``known_facts``."""
    raise NotImplementedError("upsert_by_key")


def add_messages(current: Any, new: Any) -> list[Any]:
    """Merge ``new`` messages (one or a list) into ``current``, as the seed describes.

    - A message's id is ``message["id"]`` for a dict, ``message.id`` for an object;
      None or ``""`` means it has none.
    - A message whose id is already there replaces that message where it stands.
    - A message with a new id, or with none, is appended.
    - ``RemoveMessage(id)`` deletes the message with that id; removing an id that is not
      there raises :class:`InvalidUpdate` naming it.

    Linear time: look ids up in a dict, never by scanning the list for each new message
    (10,000 messages must cost about ten times 1,000, not a hundred times). Neither input
    is changed.
    """
    raise NotImplementedError("add_messages")


# -- the schema -------------------------------------------------------------------------


class StateSchema:
    """The state's keys: each one's reducer, and which are ephemeral (langgraphgo's
    MapSchema). A key with no reducer is a last-value key."""

    def __init__(self) -> None:
        """No key registered yet."""
        raise NotImplementedError("StateSchema.__init__")

    def register(self, key: str, reducer: Reducer | None = None, *,
                 ephemeral: bool = False) -> "StateSchema":
        """Give ``key`` ``reducer`` (None: a last-value key) and say whether it is
        ephemeral; registering a key again replaces what was said of it. Returns the schema
        itself, so that calls chain."""
        raise NotImplementedError("StateSchema.register")

    def init(self) -> State:
        """The state before anything is written: an empty dict."""
        raise NotImplementedError("StateSchema.init")

    def update(self, current: Mapping[str, Any], patch: Patch) -> State:
        """``current`` with ``patch`` applied, as a new dict (``current`` is unchanged).

        For each key of the patch: with a reducer, the new value is
        ``reducer(current.get(key), value)``; without one, ``value`` itself.
        """
        raise NotImplementedError("StateSchema.update")

    def merge_step(self, current: Mapping[str, Any],
                   patches: Mapping[str, Patch | None]) -> State:
        """Apply one step's patches, ``{node name: patch or None}``, as a new dict.

        - Patches are applied with :meth:`update` in node-name order (sorted), whatever
          order the mapping is in.
        - A key without a reducer written by two patches of the step raises
          :class:`InvalidUpdate` naming the key (check before applying anything).
        - A patch that is neither None nor a mapping raises :class:`InvalidUpdate` naming
          its node.
        """
        raise NotImplementedError("StateSchema.merge_step")

    def cleanup(self, state: Mapping[str, Any]) -> State:
        """``state`` without its ephemeral keys, as a new dict."""
        raise NotImplementedError("StateSchema.cleanup")


def agent_state_schema() -> StateSchema:
    """The schema of the seed's AgentState (``labs.kit.state``), field by field:

    ``plan`` replaced (:func:`overwrite`); ``known_facts`` upserted by their ``key``
    (:func:`upsert_by_key`); ``open_questions`` and ``artifacts`` appended
    (:func:`append`); ``risk_flags`` appended without duplicates (:func:`unique`);
    ``messages`` merged with :func:`add_messages`. ``goal``, ``constraints`` and
    ``budget`` have no reducer: they are last-value keys.
    """
    raise NotImplementedError("agent_state_schema")


# -- steps and runs ---------------------------------------------------------------------


def run_step(graph: Graph, schema: StateSchema, state: State, nodes: Sequence[str], *,
             step: int = 1) -> StepResult:
    """Run ``nodes`` (``graph.nodes[name]``) as step number ``step``.

    1. Each node is called with its own deep copy of ``state`` as the step found it, so
       no node sees a sibling's write, not even one made in place on its input.
    2. The nodes run in parallel: ``run_in_parallel({name: call, ...})`` (their results
       come back in the order they finish).
    3. Their patches merge into ``state`` with ``schema.merge_step`` (node-name order,
       conflicts raise) into the step's *view*.
    4. The next nodes are the successors of every node that ran, asked of the view
       (``graph.successors(name, view)``): routing sees the ephemeral keys. Sorted, each
       once.
    5. The result's ``state`` is ``schema.cleanup(view)``: ephemeral keys end with the
       step that wrote them.
    """
    raise NotImplementedError("run_step")


def run_graph(graph: Graph, schema: StateSchema, input: Patch, *,
              listeners: Iterable[Listener] = (), max_steps: int = 25) -> State:
    """Run the graph from its entry points until no node is left; the final state.

    The first state is ``schema.update(schema.init(), input)``, cleaned up. Then step
    after step (numbered from 1) with :func:`run_step`, starting with ``graph.entry``;
    after each step every listener is called with its :class:`StepResult`. More than
    ``max_steps`` steps raises RecursionError. The final state holds no ephemeral key.
    """
    raise NotImplementedError("run_graph")


def make_agent_node(client: OpenAI, tools: DevOpsTools, *, model: str = DEFAULT_MODEL) -> Node:
    """A node that asks the model once and runs the tools it asked for.

    The node sends ``for_the_api(state["messages"])`` (the ids left out) with
    ``tools=list(TOOL_SCHEMAS)`` and returns ``{"messages": [...]}``: the reply as
    ``assistant_message(reply)`` with ``"id"`` set to the completion's id, then, for each
    tool call in order, ``tool_message(call.id, tools.execute(name, arguments))`` with
    ``"id"`` set to ``f"{call.id}:result"``. The schema's :func:`add_messages` does the
    merging; the node never touches the state it was given.
    """
    raise NotImplementedError("make_agent_node")
