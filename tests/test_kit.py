"""The kit's shared pieces: the frozen clock, the fake OpenAI endpoint, the DevOps tools."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
import respx

from labs.kit.clock import FrozenClock
from labs.kit.devops import DevOpsTools, ToolFailure, UnknownTool
from labs.kit.fake_llm import FakeLLM, connect_error, failure, reply, timeout, tool_call
from labs.kit.notebook import load_lab

PROMPT = [{"role": "user", "content": "hi"}]


def test_clock_moves_only_when_told():
    with FrozenClock() as clock:
        start = time.time()
        assert time.time() == start
        clock.sleep(1.5)
        clock.advance(0.25)
        assert clock.elapsed() == 1.75
        assert time.time() - start == pytest.approx(1.75)
        assert clock.sleeps == [1.5]
        with pytest.raises(ValueError):
            clock.sleep(-1)


def test_clock_can_stand_in_for_time_sleep():
    with FrozenClock(patch_sleep=True) as clock:
        time.sleep(3)
        assert clock.elapsed() == 3.0
    assert time.sleep is not clock.sleep


def test_fake_scripts_replies_failures_and_transport_errors():
    script = [
        failure(429, retry_after=2, retry_after_ms=1500),
        reply("hello", prompt_tokens=7, completion_tokens=3, latency=1.25),
        timeout(),
        connect_error(),
    ]
    with FrozenClock() as clock, FakeLLM(script, clock=clock) as llm:
        client = llm.client(max_retries=0, timeout=20)
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="m", messages=PROMPT)
        assert limited.value.response.headers["retry-after-ms"] == "1500"
        assert limited.value.response.headers["retry-after"] == "2"
        answer = client.chat.completions.create(model="m", messages=PROMPT)
        assert answer.choices[0].message.content == "hello"
        assert answer.usage.total_tokens == 10
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=PROMPT)
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="m", messages=PROMPT)
    assert [r.outcome for r in llm.requests] == ["429", "200", "timeout", "connect"]
    # the reply took 1.25 s; the timeout waited out the request's own 20 s read timeout
    assert llm.arrivals() == [0.0, 0.0, 1.25, 21.25]
    assert llm.requests[0].timeout == {"connect": 20, "read": 20, "write": 20, "pool": 20}
    assert llm.requests[0].body["messages"] == PROMPT


def test_a_reply_slower_than_the_timeout_times_out():
    with FrozenClock() as clock, FakeLLM([reply("late", latency=30)], clock=clock) as llm:
        with pytest.raises(openai.APITimeoutError):
            llm.client(max_retries=0).chat.completions.create(
                model="m", messages=PROMPT, timeout=5
            )
        assert clock.elapsed() == 5.0
    assert llm.requests[0].outcome == "timeout"


def test_tool_calls_carry_their_ids_and_json_arguments():
    call = tool_call("apply_deploy", {"version": "1.2", "service": "web"}, id="call_1")
    with FakeLLM([reply(tool_calls=[call])]) as llm:
        answer = llm.client().chat.completions.create(model="m", messages=PROMPT)
    (made,) = answer.choices[0].message.tool_calls
    assert (made.id, made.function.name) == ("call_1", "apply_deploy")
    assert made.function.arguments == '{"version": "1.2", "service": "web"}'
    assert answer.choices[0].finish_reason == "tool_calls"


def test_an_exhausted_script_is_a_clear_permanent_error():
    with FakeLLM([]) as llm:
        with pytest.raises(openai.BadRequestError, match="no scripted reply left for request #1"):
            llm.client().chat.completions.create(model="m", messages=PROMPT)
    assert llm.overruns == 1 and len(llm.requests) == 1


def test_the_client_retries_on_its_own_by_default():
    with FrozenClock(patch_sleep=True) as clock:
        with FakeLLM([failure(500), failure(502), reply("third")], clock=clock) as llm:
            answer = llm.client().chat.completions.create(model="m", messages=PROMPT)
    assert answer.choices[0].message.content == "third"
    assert len(llm.requests) == 3


def test_failure_needs_an_error_status():
    with pytest.raises(ValueError):
        failure(200)


def test_devops_tools_count_side_effects_and_fail_on_demand():
    tools = DevOpsTools()
    assert "95%" in tools.run("check_disk")
    tools.fail_next("apply_deploy")
    with pytest.raises(ToolFailure):
        tools.run("apply_deploy", {"service": "web", "version": "2"})
    assert tools.run("apply_deploy", {"service": "web", "version": "2"}) == "web@2 applied (deploy #1)"
    assert tools.calls["apply_deploy"] == 2 and tools.deployed == ["web@2"]
    assert tools.side_effects() == {"apply_deploy": 2, "build_config": 0, "clean_logs": 0}
    with pytest.raises(UnknownTool):
        tools.run("rm_rf")


def test_devops_tools_take_the_models_json_arguments():
    tools = DevOpsTools()
    assert tools.execute("clean_logs", "") == "Logs cleaned. Freed 20GB. Disk now at 75%."
    assert tools.execute("clean_logs", "{}").endswith("Disk now at 55%.")
    assert tools.execute("check_status", ' {"service": "web"} ') == "web: running, version none"
    with pytest.raises(ValueError, match="check_status: arguments are not JSON"):
        tools.execute("check_status", "{service: web}")
    with pytest.raises(ValueError, match="must be a JSON object"):
        tools.execute("check_status", '["web"]')


def test_unmocked_hosts_are_not_reached():
    with FakeLLM([reply("x")]) as llm:
        with pytest.raises(respx.models.AllMockedAssertionError, match="not mocked"):
            httpx.get("https://example.com/")
    assert llm.requests == []


@pytest.fixture
def restore_labs(monkeypatch):
    """Whatever a test points ``labs`` at, the stubs are what the next test finds."""
    yield monkeypatch
    monkeypatch.setenv("LAB_IMPL", "labs")
    load_lab("lab01_retry")


def test_load_lab_gives_the_reference_of_every_lab_with_solutions(restore_labs):
    restore_labs.setenv("LAB_IMPL", "solutions")
    lab03 = load_lab("lab03_deadlines")
    lab01 = sys.modules["labs.lab01_retry"]
    assert Path(lab03.__file__).parent.name == "solutions"
    assert Path(lab01.__file__).parent.name == "solutions"  # what lab 03 imports, too
    assert lab03.backoff_delay is lab01.backoff_delay


def test_load_lab_gives_the_students_modules_by_default(restore_labs):
    restore_labs.setenv("LAB_IMPL", "solutions")
    load_lab("lab03_deadlines")
    restore_labs.delenv("LAB_IMPL")
    lab03 = load_lab("lab03_deadlines")
    assert Path(lab03.__file__).parent.name == "labs"
    assert Path(sys.modules["labs.lab01_retry"].__file__).parent.name == "labs"
    with pytest.raises(NotImplementedError, match="is_transient"):
        lab03.is_transient(TimeoutError())


def test_load_lab_refuses_an_unknown_implementation(restore_labs):
    restore_labs.setenv("LAB_IMPL", "solution")
    with pytest.raises(ValueError, match="LAB_IMPL='solution' is not a known implementation"):
        load_lab("lab01_retry")


def test_devops_tools_take_their_time_on_the_frozen_clock():
    with FrozenClock() as clock:
        tools = DevOpsTools(clock=clock, durations={"apply_deploy": 180.0})
        tools.check_disk()
        tools.fail_next("apply_deploy")
        with pytest.raises(ToolFailure):
            tools.apply_deploy("web", "2")
        tools.apply_deploy("web", "2")
        assert clock.elapsed() == 360.0 and clock.sleeps == []
    with pytest.raises(ValueError, match="durations need the frozen clock"):
        DevOpsTools(durations={"verify": 1.0})
