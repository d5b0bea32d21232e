"""A state graph's shape, and nodes run side by side (given; lab 05 writes the semantics).

A graph, as in LangGraph and langgraphgo, is nodes and the edges between them. A node is a
function of the state that returns a *patch*, the keys it wants to change (or None); an
edge says who runs next, and a *router* (a conditional edge) decides from the state::

    graph = (
        Graph()
        .add_node("plan", plan)
        .add_node("check_disk", check_disk)
        .add_node("check_status", check_status)
        .add_edge("plan", "check_disk")
        .add_edge("plan", "check_status")        # two successors: they run in one step
        .add_conditional_edges("check_disk", lambda state: "clean" if state["full"] else END)
        .set_entry("plan")
    )

This module gives the shape and the plumbing: :class:`Graph` (nodes, edges, routers,
entry points, a Mermaid drawing) and :func:`run_in_parallel`, which runs a step's nodes in
threads and hands back their results *in the order they finish*, as any parallel runtime
does. What a step means (what each node sees, in which order patches merge, what two
writes to one key are, when ephemeral keys go) is lab 05's exercise, not the kit's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

#: The pseudo-node a router returns to end the run.
END = "__end__"

State = dict[str, Any]
Patch = Mapping[str, Any]
Node = Callable[[State], Patch | None]
Router = Callable[[State], str | Iterable[str]]


class GraphError(ValueError):
    """The graph's shape is wrong: an unknown node, a duplicate name, no entry point."""


@dataclass
class Graph:
    """Nodes, static edges, routers and entry points. Build it with the chained methods."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[str, list[str]] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    route_targets: dict[str, list[str]] = field(default_factory=dict)
    entry: list[str] = field(default_factory=list)

    def add_node(self, name: str, node: Node) -> "Graph":
        """Add ``node`` under ``name`` (unique, not ``END``)."""
        if name in self.nodes or name == END:
            raise GraphError(f"a node named {name!r} already exists or is reserved")
        self.nodes[name] = node
        return self

    def add_edge(self, source: str, target: str) -> "Graph":
        """``target`` runs in the step after ``source`` (``END`` ends that branch)."""
        self._require(source)
        if target != END:
            self._require(target)
        self.edges.setdefault(source, []).append(target)
        return self

    def add_conditional_edges(
        self, source: str, router: Router, targets: Iterable[str] = ()
    ) -> "Graph":
        """After ``source``, ``router(state)`` names the next node, several, or ``END``.
        ``targets``, the names it may give, are drawn as dashed edges by :meth:`mermaid`."""
        self._require(source)
        self.routers[source] = router
        self.route_targets[source] = list(targets)
        return self

    def set_entry(self, *names: str) -> "Graph":
        """The nodes of the first step."""
        for name in names:
            self._require(name)
        self.entry = list(names)
        return self

    def successors(self, source: str, state: State) -> list[str]:
        """Who runs after ``source``: its static edges, then what its router says of
        ``state``; ``END`` left out. An unknown name from a router is a GraphError."""
        targets = list(self.edges.get(source, ()))
        router = self.routers.get(source)
        if router is not None:
            chosen = router(state)
            targets.extend([chosen] if isinstance(chosen, str) else list(chosen))
        for target in targets:
            if target != END:
                self._require(target)
        return [target for target in targets if target != END]

    def mermaid(self) -> str:
        """The graph as a Mermaid flowchart (JupyterLab renders a ```mermaid block)."""
        lines = ["flowchart TD", "    __start__([start])"]
        lines += [f"    {name}[{name}]" for name in self.nodes]
        lines.append(f"    {END}([end])")
        lines += [f"    __start__ --> {name}" for name in self.entry]
        for source, targets in self.edges.items():
            lines += [f"    {source} --> {target}" for target in targets]
        for source, router in self.routers.items():
            label = getattr(router, "__name__", "route").replace("<lambda>", "route")
            lines += [f"    {source} -.->|{label}| {target}"
                      for target in self.route_targets.get(source, ())]
        return "\n".join(lines)

    def _require(self, name: str) -> None:
        if name not in self.nodes:
            raise GraphError(f"no node named {name!r}")


def run_in_parallel(calls: Mapping[str, Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Run every call in a thread of its own, all at once; ``(name, result)`` pairs in
    the order the calls *finish*. If a call raises, the first exception to come back is
    raised here once every call has ended."""
    finished: Queue[tuple[str, Any, BaseException | None]] = Queue()

    def run(name: str, call: Callable[[], Any]) -> None:
        try:
            finished.put((name, call(), None))
        except BaseException as error:  # noqa: BLE001 - handed back to the caller
            finished.put((name, None, error))

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in calls.items()]
    for thread in threads:
        thread.start()
    results: list[tuple[str, Any]] = []
    failure: BaseException | None = None
    for _ in threads:
        name, value, error = finished.get()
        if error is not None:
            failure = failure or error
        else:
            results.append((name, value))
    if failure is not None:
        raise failure
    return results
