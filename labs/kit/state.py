"""The seed's AgentState contract, its StatePatch, and the message remove marker.

The seed chapter's step 0 gives an agent run a contract, AgentState, so that it can go on
after a restart, rebuild its plan as facts arrive and save context with artifacts; a
StatePatch says how one step changes it ("add facts", "replace the plan", "add
questions"). Here they are as typed dicts, with the seed's own example.

How each field takes a patch (upsert, replace, append, append without duplicates) is not
written here: that is the schema lab 05 builds, one reducer per field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, TypedDict


class Fact(TypedDict):
    """Something the agent knows, keyed by ``key``, and where it learnt it."""

    key: str
    value: Any
    source: str


class Artifact(TypedDict):
    """A large result kept outside the context, known by a summary."""

    artifact_id: str
    type: str
    summary: str
    bytes: int


class AgentState(TypedDict, total=False):
    """The seed's AgentState, plus the conversation (``messages``)."""

    goal: str
    constraints: dict[str, Any]
    budget: dict[str, int]
    plan: list[str]
    known_facts: list[Fact]
    open_questions: list[str]
    artifacts: list[Artifact]
    risk_flags: list[str]
    messages: list[Any]


class StatePatch(TypedDict, total=False):
    """What one step changes: any subset of the AgentState fields."""

    goal: str
    plan: list[str]
    known_facts: list[Fact]
    open_questions: list[str]
    artifacts: list[Artifact]
    risk_flags: list[str]
    messages: list[Any]


@dataclass(frozen=True)
class RemoveMessage:
    """In a patch of ``messages``: delete the message with this id (LangGraph's marker)."""

    id: str


#: The seed's example AgentState, in English.
SEED_STATE: AgentState = {
    "goal": "Deploy service X to staging",
    "constraints": {"human_in_the_loop": {"required_for_risk_levels": ["write_local",
                                                                        "external_action"]}},
    "budget": {"max_steps": 20, "max_wall_time_ms": 300000, "max_llm_tokens": 200000,
               "max_artifact_bytes_in_context": 8000},
    "plan": ["Check the current status", "Build the config", "Apply the changes",
             "Check again"],
    "known_facts": [{"key": "service", "value": "X", "source": "user"}],
    "open_questions": ["Which namespace to deploy to?"],
    "artifacts": [{"artifact_id": "log_123", "type": "tool_result.logs",
                   "summary": "nginx error log", "bytes": 48231}],
    "risk_flags": ["budget_pressure"],
}


def seed_state() -> AgentState:
    """A fresh copy of :data:`SEED_STATE`, safe to change."""
    return copy.deepcopy(SEED_STATE)
