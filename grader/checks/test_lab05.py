"""Checks for lab 05 (reducers and ephemeral channels), one group per checklist item."""

from __future__ import annotations

import pytest

from grader.checks.expect import raised_type
from labs.kit.devops import TOOL_SCHEMAS

#: The tools every request of the agent node offers: the kit's tool schemas.
KIT_TOOLS = [schema["function"]["name"] for schema in TOOL_SCHEMAS]


def _untouched(case):
    """What a reducer did to its inputs, or ''."""
    if case.get("changed_its_input"):
        return "it changed an input"
    if case.get("aliases_an_input"):
        return "it returned one of its inputs itself (a later change to one changes both)"
    return ""


# -- lab05.overwrite-reducer ---------------------------------------------------------------


@pytest.mark.item("lab05.overwrite-reducer")
def test_overwrite_returns_the_new_value(observe):
    news = [8, "final", [9], {"k": 1}, None]
    for case, new in zip(observe("overwrite"), news):
        assert "returned" in case and case["returned"] == new, (
            f"overwrite(current, {new!r}): {raised_type(case)}; expected {new!r}"
        )


# -- lab05.append-reducer ---------------------------------------------------------------------

APPENDED = {
    "missing_and_list": (None, ["disk full"], ["disk full"]),
    "missing_and_item": (None, "disk full", ["disk full"]),
    "list_and_list": (["a", "b"], ["c", "d"], ["a", "b", "c", "d"]),
    "list_and_item": (["a"], "b", ["a", "b"]),
    "item_and_item": ("a", "b", ["a", "b"]),
    "item_and_list": ("a", ["b", "c"], ["a", "b", "c"]),
    "empty_and_empty": ([], [], []),
    "dicts": ([{"k": 1}], {"k": 2}, [{"k": 1}, {"k": 2}]),
}


@pytest.mark.item("lab05.append-reducer")
def test_append_handles_every_pair(observe):
    seen = observe("append")
    wrong = [
        f"append({current!r}, {new!r}) {raised_type(seen[name])}, expected {expected!r}"
        for name, (current, new, expected) in APPENDED.items()
        if seen[name].get("returned") != expected
    ]
    assert not wrong, "; ".join(wrong[:3])


@pytest.mark.item("lab05.append-reducer")
def test_append_changes_neither_input(observe):
    seen = observe("append")
    for name, (current, new, _) in APPENDED.items():
        problem = _untouched(seen[name])
        assert not problem, f"append({current!r}, {new!r}): {problem}"


# -- lab05.add-messages-upsert -----------------------------------------------------------------

CONVERSATION = ["free the disk", "checking", "97%", "cleaning"]
MERGED = {
    "upsert_in_place": ["free the disk", "disk at 97%", "97%", "cleaning"],
    "append_new_and_idless": CONVERSATION + ["thanks", "done"],
    "one_message": ["free it now", "checking", "97%", "cleaning"],
    "to_nothing": ["hi"],
    "remove": ["free the disk", "97%", "cleaning"],
    "remove_then_add": ["free the disk", "checking", "97%", "again"],
    "same_id_twice": CONVERSATION + ["b"],
    "empty_id": ["x", "y"],
}
WHAT = {
    "upsert_in_place": "a known id (m2) replaces its message where it stands",
    "append_new_and_idless": "a new id and a message without one are appended",
    "one_message": "a single message, not in a list, upserts too",
    "to_nothing": "merging into no messages at all",
    "remove": "RemoveMessage('m2') deletes m2",
    "remove_then_add": "m3 removed, then added again",
    "same_id_twice": "one patch holding m5 twice: the second replaces the first",
    "empty_id": "an empty id counts as none",
}


def _contents(case):
    returned = case.get("returned")
    if not isinstance(returned, list):
        return returned
    return [m.get("content") if isinstance(m, dict) else m for m in returned]


@pytest.mark.item("lab05.add-messages-upsert")
def test_add_messages_upserts_appends_and_removes(observe):
    seen = observe("messages")
    wrong = [
        f"{WHAT[name]}: got "
        f"{_contents(seen[name]) if 'returned' in seen[name] else raised_type(seen[name])}, "
        f"expected {expected}"
        for name, expected in MERGED.items()
        if _contents(seen[name]) != expected
    ]
    assert not wrong, "add_messages: " + "; ".join(wrong[:2])


@pytest.mark.item("lab05.add-messages-upsert")
def test_removing_an_unknown_id_is_an_error(observe):
    case = observe("messages")["remove_unknown"]
    raised = case.get("raised")
    assert raised is not None and raised["is_invalid_update"] and "m9" in raised["message"], (
        f"RemoveMessage('m9') with no message m9: {raised_type(case)}; expected your "
        "InvalidUpdate naming m9"
    )


@pytest.mark.item("lab05.add-messages-upsert")
def test_add_messages_reads_ids_of_objects(observe):
    case = observe("messages")["objects"]
    assert case.get("returned") == ["FIRST", "no id", "third"], (
        f"messages as objects with an `id` attribute (o1 replaced, o3 added, o2 removed): "
        f"{case.get('returned') if 'returned' in case else raised_type(case)}; "
        "expected ['FIRST', 'no id', 'third']"
    )


@pytest.mark.item("lab05.add-messages-upsert")
def test_add_messages_takes_linear_time(observe):
    seen = observe("messages_at_scale")
    for size, case in seen.items():
        assert case.get("returned") == int(size) * 3 // 2, (
            f"{size} messages and a patch of {size} (half edits, half new): "
            f"{raised_type(case)}; expected {int(size) * 3 // 2} messages"
        )
    small, large = seen["1000"]["id_reads"], seen["4000"]["id_reads"]
    assert large <= 10 * seen["4000"]["messages"], (
        f"merging 4,000 messages into 4,000 read a message's id {large:,} times "
        f"({small:,} for 1,000): the list is scanned for every new message, so the time "
        "grows with the square of the length. Look ids up in a dict"
    )


@pytest.mark.item("lab05.add-messages-upsert")
def test_add_messages_changes_neither_input(observe):
    seen = observe("messages")
    for name in (*MERGED, "objects"):
        problem = _untouched(seen[name])
        assert not problem, f"add_messages ({WHAT.get(name, 'objects')}): {problem}"


# -- lab05.schema-update ------------------------------------------------------------------------


@pytest.mark.item("lab05.schema-update")
def test_update_applies_each_keys_reducer(observe):
    seen = observe("schema_update")
    got = seen.get("returned")
    assert got is not None, f"the schema raised {raised_type(seen)}"
    expected = {"log": ["start", "step 1"], "count": 7, "mode": "slow", "other": {"nested": [1]},
                "fresh": True}
    assert got["updated"] == expected, (
        f"update with reducers on log (append) and count (a sum), mode registered and then "
        f"made last-value again, fresh unknown: got {got['updated']}; expected {expected}"
    )
    assert got["init"] == {} and got["chained"], (
        f"init() gave {got['init']!r} (expected {{}}), register(...) returned "
        f"{'the schema' if got['chained'] else 'something else'} (expected the schema)"
    )


@pytest.mark.item("lab05.schema-update")
def test_update_never_changes_the_current_state(observe):
    got = observe("schema_update").get("returned")
    assert got is not None, "the schema raised"
    assert got["unchanged"] and not got["same_object"], (
        "update changed the state it was given, or handed it back itself: it returns a "
        "new dict and leaves the current one as it was"
    )


@pytest.mark.item("lab05.schema-update")
def test_registering_again_replaces_what_was_said(observe):
    seen = observe("reregister")
    expected = {"scratch": ["kept"], "log": ["x"]}
    assert seen.get("returned") == expected, (
        f"scratch registered ephemeral, then again with a reducer and no ephemeral=True; note "
        f"left ephemeral: cleanup of {{'scratch', 'note', 'log'}} gave "
        f"{seen.get('returned') if 'returned' in seen else raised_type(seen)}; expected "
        f"{expected} (registering a key again replaces what was said of it, ephemeral or not)"
    )


# -- lab05.agent-state-patch ---------------------------------------------------------------------

PATCHED = {
    "goal": "Deploy service X to staging, then to production",
    "plan": ["Build the config", "Apply the changes"],
    "known_facts": [{"key": "service", "value": "X-api", "source": "check_status"},
                    {"key": "namespace", "value": "staging-2", "source": "user"}],
    "open_questions": ["Which namespace to deploy to?", "Roll back on failure?"],
    "risk_flags": ["budget_pressure", "external_action"],
}


@pytest.mark.item("lab05.agent-state-patch")
def test_state_patch_merges_field_by_field(observe):
    seen = observe("agent_state")
    got = seen.get("returned")
    assert isinstance(got, dict), f"agent_state_schema().update {raised_type(seen)}"
    wrong = [f"{field}: {got.get(field)!r}, expected {value!r}"
             for field, value in PATCHED.items() if got.get(field) != value]
    artifacts = [a.get("artifact_id") for a in got.get("artifacts") or [] if isinstance(a, dict)]
    if artifacts != ["log_123", "diff_7"]:
        wrong.append(f"artifacts: {artifacts}, expected ['log_123', 'diff_7']")
    if got.get("budget", {}).get("max_steps") != 20:
        wrong.append("budget: changed though the patch did not touch it")
    assert not wrong, (
        "a StatePatch on the seed's AgentState (facts upserted by key, plan replaced, "
        "questions and artifacts appended, risk flags without duplicates): "
        + "; ".join(wrong[:3])
    )
    assert seen["unchanged"], "the patch changed the AgentState it was applied to"


# -- lab05.ephemeral-cleared ---------------------------------------------------------------------


@pytest.mark.item("lab05.ephemeral-cleared")
def test_routing_sees_the_ephemeral_key(observe):
    seen = observe("ephemeral")
    assert seen["router_saw"] == ["disk at 97%: clean first"], (
        f"the router after the node that wrote the ephemeral key saw {seen['router_saw']}; "
        "it should see the value (remove ephemeral keys after routing, not before)"
    )


@pytest.mark.item("lab05.ephemeral-cleared")
def test_the_next_step_and_the_end_do_not(observe):
    seen = observe("ephemeral")
    assert seen["next_node_saw"] == ["<absent>"], (
        f"the next step's node found the ephemeral key set to {seen['next_node_saw']}; it "
        "ends with the step that wrote it"
    )
    final = seen.get("returned")
    assert isinstance(final, dict) and "scratch" not in final, (
        f"the final state: {final if isinstance(final, dict) else raised_type(seen)}; the "
        "ephemeral key written in the last step must not reach it"
    )


@pytest.mark.item("lab05.ephemeral-cleared")
def test_steps_show_it_before_cleanup_only(observe):
    steps = observe("ephemeral")["steps"]
    assert len(steps) == 2, f"the listeners heard of {len(steps)} steps; expected 2"
    for number, step in enumerate(steps, start=1):
        assert "scratch" in (step["view"] or {}) and "scratch" not in (step["state"] or {}), (
            f"step {number}: the ephemeral key in view={'scratch' in (step['view'] or {})}, "
            f"in state={'scratch' in (step['state'] or {})}; expected in the view (what "
            "routing and listeners see) and gone from the state"
        )


# -- lab05.superstep-isolation -------------------------------------------------------------------


@pytest.mark.item("lab05.superstep-isolation")
def test_siblings_see_the_state_of_the_step_start(observe):
    seen = observe("isolation")
    assert seen["beta_saw"] == {"level": 0, "notes": ["start"]}, (
        f"beta, running beside alpha, saw {seen['beta_saw']}; expected the state as the "
        "step found it, {'level': 0, 'notes': ['start']} (alpha's patch and its in-place "
        "change to its own input are not beta's to see)"
    )
    final = seen.get("returned")
    assert isinstance(final, dict) and final.get("level") == 1 \
        and final.get("notes") == ["start"], (
        f"after the step: {final if isinstance(final, dict) else raised_type(seen)}; "
        "expected alpha's patch (level 1) and nothing of its in-place change"
    )
    assert seen["input_after"] == {"level": 0, "notes": ["start"]}, (
        f"the input given to run_graph became {seen['input_after']}"
    )


def _steps_ended(case):
    """How a run of the counting graph ended, in words."""
    if "raised" in case:
        return f"raised {case['raised']['type']} after the steps {case['steps_heard']}"
    return f"returned {case.get('returned')!r} after the steps {case['steps_heard']}"


@pytest.mark.item("lab05.superstep-isolation")
def test_steps_are_numbered_from_1(observe):
    seen = observe("step_loop")
    case = seen["three"]
    assert case.get("returned") == {"count": 3} and case["steps_heard"] == [1, 2, 3], (
        f"a graph that runs 3 steps: {_steps_ended(case)}; expected "
        "{'count': 3} and the listeners told of steps 1, 2, 3 (numbered from 1, one by one)"
    )
    alone = seen["run_step_alone"]
    step = (alone.get("returned") or {}).get("step")
    got = f"a StepResult with step={step!r}" if "returned" in alone else raised_type(alone)
    assert step == 1, (
        f"run_step called with no step number: {got}; expected step 1 (the signature's "
        "default)"
    )


@pytest.mark.item("lab05.superstep-isolation")
def test_more_than_max_steps_raises_recursion_error(observe):
    seen = observe("step_loop")
    for label, what, heard in (("ten_of_max_3", "10 steps with max_steps=3", [1, 2, 3]),
                               ("26_of_default", "26 steps with the default max_steps (25)",
                                list(range(1, 26)))):
        case = seen[label]
        raised = case.get("raised") or {}
        assert raised.get("type") == "RecursionError" and case["steps_heard"] == heard, (
            f"a graph that would run {what}: {_steps_ended(case)}; expected "
            f"RecursionError once step {len(heard)} is done, before step {len(heard) + 1}"
        )
    for label, what, rounds in (("three_of_max_3", "3 steps with max_steps=3", 3),
                                ("25_of_default", "25 steps with the default max_steps", 25)):
        case = seen[label]
        assert case.get("returned") == {"count": rounds}, (
            f"a graph that runs {what}: {_steps_ended(case)}; expected it to finish "
            f"with {{'count': {rounds}}} (max_steps steps are allowed; only more raise)"
        )


# -- lab05.deterministic-merge --------------------------------------------------------------------


@pytest.mark.item("lab05.deterministic-merge")
def test_patches_merge_in_node_name_order(observe):
    for label, seen in observe("merge_order").items():
        final = seen.get("returned")
        assert isinstance(final, dict), f"the run raised {raised_type(seen)}"
        assert final.get("log") == ["alpha done", "beta done", "gamma done"] \
            and final.get("winner") == "gamma", (
            f"alpha, beta and gamma finishing as {', '.join(seen['finished'])}: log "
            f"{final.get('log')}, winner {final.get('winner')!r}; expected the log in node-"
            "name order and gamma's overwrite last, whatever order they finished in"
        )


# -- lab05.conflict-detected --------------------------------------------------------------------


@pytest.mark.item("lab05.conflict-detected")
def test_two_writes_to_a_last_value_key_conflict(observe):
    seen = observe("conflicts")
    for label, where in (("two_writers", "two nodes of one step"),
                         ("merge_step", "merge_step with two patches")):
        raised = seen[label].get("raised")
        assert raised is not None and raised["is_invalid_update"] \
            and "status" in raised["message"], (
            f"{where} writing 'status', which has no reducer: {raised_type(seen[label])}; "
            "expected your InvalidUpdate naming the key"
        )
    assert seen["two_writers"]["input_after"] == {"status": "new", "log": []}, (
        "the failed step changed the state it was given"
    )


@pytest.mark.item("lab05.conflict-detected")
def test_every_patch_of_the_step_is_checked(observe):
    seen = observe("conflicts")
    cases = {
        "after_a_none_patch": "a None patch from alpha, then deploy and verify both writing "
                              "'status'",
        "reducer_key_first": "deploy and verify each writing 'log' (append) first, then "
                             "'status' (no reducer)",
    }
    for label, where in cases.items():
        raised = seen[label].get("raised")
        assert raised is not None and raised["is_invalid_update"] \
            and "status" in raised["message"], (
            f"merge_step with {where}: {raised_type(seen[label])}; expected your "
            "InvalidUpdate naming 'status' (look at every key of every patch: a None patch "
            "or a key with a reducer is skipped, not the end of the check)"
        )


@pytest.mark.item("lab05.conflict-detected")
def test_a_patch_that_is_not_a_mapping_is_refused(observe):
    case = observe("conflicts")["not_a_patch"]
    raised = case.get("raised")
    assert raised is not None and raised["is_invalid_update"] \
        and "broken" in raised["message"], (
        f"merge_step with node 'broken' returning a list: {raised_type(case)}"
        f"{': ' + raised['message'] if raised else ''}; expected your InvalidUpdate naming "
        "the node 'broken' (a patch is None or a mapping)"
    )


@pytest.mark.item("lab05.conflict-detected")
def test_reducer_keys_and_single_writes_are_fine(observe):
    seen = observe("conflicts")
    with_reducer = seen["with_reducer"].get("returned") or {}
    one = seen["one_writer"].get("returned") or {}
    assert with_reducer.get("status") == ["new", "deployed", "verified"], (
        f"two writes to a key with a reducer: {raised_type(seen['with_reducer'])}; expected "
        "them merged, not a conflict"
    )
    assert one.get("status") == "deployed", (
        f"one write to a last-value key: {raised_type(seen['one_writer'])}"
    )


# -- lab05.llm-node-messages --------------------------------------------------------------------


@pytest.mark.item("lab05.llm-node-messages")
def test_agent_node_adds_reply_and_tool_results(observe):
    seen = observe("llm_node")
    final = seen.get("returned")
    assert isinstance(final, dict), f"the agent graph raised {raised_type(seen)}"
    messages = final.get("messages") or []
    roles = [m.get("role") for m in messages]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant"], (
        f"the conversation after two turns holds {roles}; expected system, user, the "
        "assistant's tool calls, their two results, and the answer"
    )
    calls = [c.get("id") for c in messages[2].get("tool_calls") or []]
    linked = [m.get("tool_call_id") for m in messages[3:5]]
    assert calls == linked == ["call_d1", "call_c1"], (
        f"tool calls {calls}, tool results linked to {linked}: each result carries the "
        "tool_call_id of its call"
    )
    assert [m.get("id") for m in (messages[2], messages[5])] == ["chatcmpl-fake-1",
                                                                  "chatcmpl-fake-2"], (
        "the assistant messages should carry their completion's id (add_messages upserts by it)"
    )
    assert seen["tool_runs"] == {"check_disk": 1, "clean_logs": 1}


@pytest.mark.item("lab05.llm-node-messages")
def test_what_the_model_is_sent(observe):
    sent = observe("llm_node")["sent"]
    assert len(sent) == 2, f"the model was asked {len(sent)} times; expected 2"
    with_ids = [m for request in sent for m in request if "id" in m]
    assert not with_ids, "messages went to the API with their 'id' (use for_the_api)"
    assert [m.get("role") for m in sent[1]] == ["system", "user", "assistant", "tool", "tool"], (
        f"the second request sent {[m.get('role') for m in sent[1]]}; the tool results "
        "must be in the conversation the model sees next"
    )
    wrong = [offered for offered in observe("llm_node")["offered"] if offered != KIT_TOOLS]
    assert not wrong, (
        f"a request offered the tools {wrong[0]!r}; expected {KIT_TOOLS} with every request "
        "(tools=list(TOOL_SCHEMAS)): without them the model cannot call one"
    )
