"""The kit's graph plumbing: the graph's shape, routing, its drawing, the parallel runner,
and the seed's AgentState."""

from __future__ import annotations

import threading

import pytest

from labs.kit.agent import for_the_api
from labs.kit.graph import END, Graph, GraphError, run_in_parallel
from labs.kit.state import SEED_STATE, seed_state


def noop(state):
    return None


def test_successors_are_static_edges_then_the_router():
    graph = (Graph().add_node("plan", noop).add_node("check", noop).add_node("clean", noop)
             .add_edge("plan", "check")
             .add_conditional_edges("plan", lambda s: "clean" if s["full"] else END, ["clean"])
             .set_entry("plan"))
    assert graph.successors("plan", {"full": True}) == ["check", "clean"]
    assert graph.successors("plan", {"full": False}) == ["check"]
    assert graph.successors("check", {}) == []


def test_a_router_may_name_several_nodes():
    graph = (Graph().add_node("a", noop).add_node("b", noop).add_node("c", noop)
             .add_conditional_edges("a", lambda s: ["b", "c"]))
    assert graph.successors("a", {}) == ["b", "c"]


def test_wrong_shapes_are_clear_errors():
    graph = Graph().add_node("a", noop)
    with pytest.raises(GraphError, match="a node named 'a' already exists"):
        graph.add_node("a", noop)
    with pytest.raises(GraphError, match="no node named 'b'"):
        graph.add_edge("a", "b")
    with pytest.raises(GraphError, match="reserved"):
        graph.add_node(END, noop)
    graph.add_conditional_edges("a", lambda s: "nowhere")
    with pytest.raises(GraphError, match="no node named 'nowhere'"):
        graph.successors("a", {})


def test_mermaid_draws_every_edge():
    def route(state):
        return END

    graph = (Graph().add_node("plan", noop).add_node("apply", noop)
             .add_edge("plan", "apply").add_conditional_edges("apply", route, [END, "plan"])
             .set_entry("plan"))
    drawing = graph.mermaid().splitlines()
    assert drawing[0] == "flowchart TD"
    for line in ("    __start__ --> plan", "    plan --> apply",
                 "    apply -.->|route| __end__", "    apply -.->|route| plan"):
        assert line in drawing


def test_parallel_results_come_back_in_finish_order():
    second_may_finish = threading.Event()

    def slow():
        second_may_finish.wait(5)
        return "slow"

    def fast():
        second_may_finish.set()
        return "fast"

    assert run_in_parallel({"a_slow": slow, "b_fast": fast}) == [("b_fast", "fast"),
                                                                  ("a_slow", "slow")]


def test_parallel_failure_is_raised_once_all_have_ended():
    ended = []

    def fails():
        raise LookupError("no such service")

    def works():
        ended.append("works")
        return 1

    with pytest.raises(LookupError, match="no such service"):
        run_in_parallel({"fails": fails, "works": works})
    assert ended == ["works"]


def test_seed_state_copies_are_independent():
    state = seed_state()
    state["known_facts"].append({"key": "x", "value": 1, "source": "test"})
    assert len(SEED_STATE["known_facts"]) == 1 and seed_state() == SEED_STATE


def test_for_the_api_drops_only_the_id():
    message = {"id": "m1", "role": "user", "content": "hi"}
    assert for_the_api([message]) == [{"role": "user", "content": "hi"}]
    assert message["id"] == "m1"
