"""The kit's pieces for crashes and restarts: a model that answers by turn, a server that
honours idempotency keys and keeps a journal, crash plans, and forked children."""

from __future__ import annotations

import os
import select
import signal

import pytest

from labs.kit.agent import start_messages
from labs.kit.clock import FrozenClock
from labs.kit.crash import Crash, CrashPlan, in_child_process
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import FakeLLM, reply, tool_call

DEPLOY = {"service": "web", "version": "3.1"}
SCRIPT = [
    reply(tool_calls=[tool_call("apply_deploy", DEPLOY, id="call_a")]),
    reply("deployed"),
]


def ask(client, messages):
    return client.chat.completions.create(model="m", messages=messages).choices[0].message


def test_by_turn_answers_the_conversation_not_the_queue():
    with FakeLLM(SCRIPT, by_turn=True) as llm:
        client = llm.client(max_retries=0)
        first = ask(client, start_messages("deploy"))
        again = ask(client, start_messages("deploy"))  # a restarted agent asks again
        later = ask(client, [*start_messages("deploy"), {"role": "assistant", "content": "x"}])
    assert first.tool_calls[0].id == again.tool_calls[0].id == "call_a"
    assert later.content == "deployed"
    assert [r.turn for r in llm.requests] == [0, 0, 1]
    assert llm.remaining == 0


def test_before_reply_can_lose_a_reply_in_flight():
    plan = CrashPlan(2)
    with FakeLLM(SCRIPT, by_turn=True, before_reply=plan.before_reply) as llm:
        client = llm.client(max_retries=0)
        ask(client, start_messages("deploy"))
        with pytest.raises(Crash, match="crashed at event 2: reply to turn 1"):
            ask(client, start_messages("deploy"))
    assert plan.events == ["reply to turn 1", "reply to turn 1"]
    assert len(llm.requests) == 2


def test_server_honours_idempotency_keys():
    tools = DevOpsTools()
    first = tools.execute("apply_deploy", '{"service": "web", "version": "3.1"}',
                          idempotency_key="k1")
    again = tools.execute("apply_deploy", '{"version": "3.1", "service": "web"}',
                          idempotency_key="k1")
    assert first == again == "web@3.1 applied (deploy #1)"
    assert tools.deployed == ["web@3.1"] and tools.replays == 1
    with pytest.raises(ValueError, match="idempotency key k1 was used for apply_deploy"):
        tools.run("apply_deploy", {"service": "web", "version": "3.2"}, idempotency_key="k1")
    tools.run("apply_deploy", DEPLOY)  # no key: a second deploy, as asked
    assert tools.deployed == ["web@3.1", "web@3.1"]


def test_journal_outlives_the_server(tmp_path):
    journal = tmp_path / "world.jsonl"
    first = DevOpsTools(journal=journal)
    first.run("clean_logs", idempotency_key="clean-1")
    first.run("apply_deploy", DEPLOY, idempotency_key="deploy-1")
    first.check_disk()  # a read leaves no trace
    assert len(journal.read_text().splitlines()) == 2
    second = DevOpsTools(journal=journal)
    assert second.deployed == ["web@3.1"] and second.disk_percent == 75
    assert second.side_effects() == {"apply_deploy": 1, "build_config": 0, "clean_logs": 1}
    assert second.run("apply_deploy", DEPLOY, idempotency_key="deploy-1") == \
        "web@3.1 applied (deploy #1)"
    assert second.replays == 1 and second.deployed == ["web@3.1"]


def test_journal_forgets_a_torn_last_line_but_not_garbage(tmp_path):
    journal = tmp_path / "world.jsonl"
    DevOpsTools(journal=journal).run("apply_deploy", DEPLOY)
    with open(journal, "a") as handle:
        handle.write('{"tool": "apply_dep')  # the crash came in the middle of a write
    assert DevOpsTools(journal=journal).deployed == ["web@3.1"]
    journal.write_text('not json\n{"tool": "clean_logs", "arguments": {}, "key": null, '
                       '"reply": "x"}\n')
    with pytest.raises(ValueError, match="world.jsonl: line 1 is not a journal entry"):
        DevOpsTools(journal=journal)


def test_after_effect_comes_once_the_effect_is_on_record(tmp_path):
    journal = tmp_path / "world.jsonl"
    tools = DevOpsTools(journal=journal, after_effect=CrashPlan(1).after_effect)
    assert tools.check_disk()  # a read is not an event
    with pytest.raises(Crash, match="crashed at event 1: apply_deploy"):
        tools.execute("apply_deploy", '{"service": "web", "version": "3.1"}')
    assert DevOpsTools(journal=journal).deployed == ["web@3.1"]


def test_crash_plan_refuses_an_unknown_way_to_crash():
    with pytest.raises(ValueError, match="how must be"):
        CrashPlan(1, how="explode")


def test_child_process_endings(tmp_path):
    marker = tmp_path / "done"
    ok = in_child_process(lambda: marker.write_text("yes"))
    assert (ok.code, ok.signal, ok.error) == (0, None, None) and marker.read_text() == "yes"

    def fail() -> None:
        raise LookupError("no such task")

    failed = in_child_process(fail)
    assert failed.code == 1 and failed.error == "LookupError: no such task"
    assert str(failed) == "exited with status 1 after LookupError: no such task"

    killed = in_child_process(lambda: CrashPlan(1, how="kill").event("deploy"))
    assert killed.killed and str(killed) == "killed by SIGKILL"


def test_child_process_that_hangs_is_killed_at_its_limit():
    hung = in_child_process(lambda: select.select([], [], []), limit=0.1)
    assert hung.hung and not hung.killed and hung.signal == signal.SIGKILL


def test_child_changes_nothing_in_the_parent():
    state = {"deployed": 0}

    def deploy() -> None:
        state["deployed"] += 1

    assert in_child_process(deploy).code == 0
    assert state == {"deployed": 0}  # only what reaches the disk survives a process


def test_child_runs_under_a_frozen_clock_without_waiting_for_it():
    with FrozenClock(patch_sleep=True):
        ending = in_child_process(lambda: os.getpid())
    assert ending.code == 0


def test_a_turn_may_fail_before_it_answers():
    from labs.kit.fake_llm import failure

    script = [[failure(503), failure(429), reply("recovered")], reply("second turn")]
    with FakeLLM(script, by_turn=True) as llm:
        client = llm.client(max_retries=0)
        outcomes = []
        for _ in range(4):
            try:
                outcomes.append(ask(client, start_messages("deploy")).content)
            except Exception as error:  # noqa: BLE001 - the outcome is the point
                outcomes.append(type(error).__name__)
    assert outcomes == ["InternalServerError", "RateLimitError", "recovered", "recovered"]
    assert [r.outcome for r in llm.requests] == ["503", "429", "200", "200"]


def test_a_paused_run_waits_for_the_other_process(tmp_path):
    from labs.kit.crash import wait_for_file

    hold = tmp_path / "hold"
    hold.mkdir()
    (tmp_path / "after").unlink(missing_ok=True)

    def run() -> None:
        plan = CrashPlan(2, how="pause", hold=hold, hold_limit=10.0)
        plan.event("reply to turn 1")
        plan.event("apply_deploy")  # holds here
        (tmp_path / "after").write_text("went on")

    pid = os.fork()
    if pid == 0:
        try:
            run()
        finally:
            os._exit(0)
    assert wait_for_file(hold / "paused", limit=10.0)
    assert (hold / "paused").read_text() == "apply_deploy"
    assert not (tmp_path / "after").exists()  # still held
    (hold / "go").write_text("")
    os.waitpid(pid, 0)
    assert (tmp_path / "after").read_text() == "went on"


def test_a_pause_needs_its_folder():
    with pytest.raises(ValueError, match="a pause needs the folder"):
        CrashPlan(1, how="pause")
