"""The DevOps tools of the seed's scenario, with side-effect counters.

The agent in every lab looks after a server: it checks the disk, cleans logs, and runs the
long deployment of the seed's real case (check status, build config, apply, verify). Each
tool returns the text a real tool would print and counts how often it ran, so a check can
say "the deploy happened exactly once" from the outside.

Read-only tools (``check_disk``, ``check_status``, ``verify``) are safe to repeat; the
others change the world (``SIDE_EFFECTS``) and are the ones idempotency must protect. A
side-effecting tool's reply says what it changed (the disk left after a clean, the deploy's
number), so a second run shows in what the model is told, not only in the counters.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from labs.kit.clock import FrozenClock

#: The tools whose repetition does harm: a second run is a duplicate in the world.
SIDE_EFFECTS = frozenset({"clean_logs", "build_config", "apply_deploy"})

#: The deployment of the seed's real case, in order.
DEPLOY_PLAN = ("check_status", "build_config", "apply_deploy", "verify")


class ToolFailure(RuntimeError):
    """A tool failed; raised by a tool that was told to fail (see :meth:`DevOpsTools.fail_next`)."""


class UnknownTool(KeyError):
    """The model asked for a tool that does not exist."""


def _schema(name: str, description: str, **params: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {p: {"type": "string", "description": d} for p, d in params.items()},
                "required": list(params),
            },
        },
    }


#: The tools as the OpenAI API's ``tools`` parameter describes them.
TOOL_SCHEMAS: tuple[dict[str, Any], ...] = (
    _schema("check_disk", "Check current disk usage"),
    _schema("clean_logs", "Delete old logs to free space"),
    _schema("check_status", "Check the service's current status", service="service name"),
    _schema(
        "build_config", "Build the deployment config", service="service name", version="version"
    ),
    _schema("apply_deploy", "Apply the deployment", service="service name", version="version"),
    _schema("verify", "Verify the service after the deployment", service="service name"),
)


class DevOpsTools:
    """A server the agent looks after. ``calls`` counts every run of every tool.

    ``disk_percent`` falls when logs are cleaned; ``deployed`` holds the versions applied,
    in order (a duplicate deploy shows up as a repeated entry).

    Tools take no time unless told to: with a frozen ``clock`` and ``durations`` (seconds
    per tool name, e.g. ``{"apply_deploy": 180}``), each run of a tool moves the clock on by
    its duration, failed runs included.
    """

    def __init__(
        self,
        *,
        disk_percent: int = 95,
        clock: FrozenClock | None = None,
        durations: Mapping[str, float] | None = None,
    ) -> None:
        self.calls: Counter[str] = Counter()
        self.disk_percent = disk_percent
        self.deployed: list[str] = []
        self.clock = clock
        self.durations = dict(durations or {})
        if self.durations and clock is None:
            raise ValueError("tool durations need the frozen clock they pass on")
        self._failures: dict[str, deque[Exception]] = {}

    # -- the tools -----------------------------------------------------------------------

    def check_disk(self) -> str:
        self._enter("check_disk")
        level = "CRITICAL" if self.disk_percent >= 90 else "OK"
        return f"Disk Usage: {self.disk_percent}% ({level}). Large folder: /var/log"

    def clean_logs(self) -> str:
        self._enter("clean_logs")
        self.disk_percent = max(0, self.disk_percent - 20)
        return f"Logs cleaned. Freed 20GB. Disk now at {self.disk_percent}%."

    def check_status(self, service: str) -> str:
        self._enter("check_status")
        current = self.deployed[-1] if self.deployed else "none"
        return f"{service}: running, version {current}"

    def build_config(self, service: str, version: str) -> str:
        self._enter("build_config")
        return f"config #{self.calls['build_config']} for {service}@{version} built"

    def apply_deploy(self, service: str, version: str) -> str:
        self._enter("apply_deploy")
        self.deployed.append(f"{service}@{version}")
        return f"{service}@{version} applied (deploy #{len(self.deployed)})"

    def verify(self, service: str) -> str:
        self._enter("verify")
        healthy = bool(self.deployed) and self.deployed[-1].startswith(f"{service}@")
        return f"{service}: {'healthy' if healthy else 'not deployed'}"

    # -- for the agent loop and the checks ---------------------------------------------------

    def run(self, name: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Run the tool ``name`` with keyword ``arguments``."""
        tool = self._tools().get(name)
        if tool is None:
            raise UnknownTool(name)
        return tool(**dict(arguments or {}))

    def execute(self, name: str, arguments: str) -> str:
        """Run a tool call as the model sends it: ``arguments`` is JSON text (``"{}"`` or
        empty for none). Text that is not a JSON object is a ValueError naming the tool."""
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError as error:
            raise ValueError(f"{name}: arguments are not JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"{name}: arguments must be a JSON object, not {arguments!r}")
        return self.run(name, parsed)

    def fail_next(self, name: str, error: Exception | None = None, *, times: int = 1) -> None:
        """Make the next ``times`` runs of ``name`` raise ``error`` (a ToolFailure by
        default) after counting the call, as a tool that fails half-way would."""
        queue = self._failures.setdefault(name, deque())
        for _ in range(times):
            queue.append(error or ToolFailure(f"{name} failed"))

    def side_effects(self) -> dict[str, int]:
        """How often each side-effecting tool ran."""
        return {name: self.calls[name] for name in sorted(SIDE_EFFECTS)}

    def _tools(self) -> dict[str, Callable[..., str]]:
        return {
            "check_disk": self.check_disk,
            "clean_logs": self.clean_logs,
            "check_status": self.check_status,
            "build_config": self.build_config,
            "apply_deploy": self.apply_deploy,
            "verify": self.verify,
        }

    def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if self.clock is not None and self.durations.get(name):
            self.clock.advance(self.durations[name])
        queue = self._failures.get(name)
        if queue:
            raise queue.popleft()
