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
import os
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
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

    **Idempotency keys.** Like a payment API, the server honours an idempotency key sent
    with a call (:meth:`run`, :meth:`execute`): the first call under a key runs and its
    reply is kept; a later call under the same key gets that reply again without running
    anything (counted in ``replays``). The same key for another call is a ValueError.

    **A server that outlives the agent.** With ``journal`` (a file path) every side effect
    is appended to that file, flushed and synced to disk before the tool returns; a new
    ``DevOpsTools`` on the same journal starts from the world as it was left: its
    ``deployed``, disk, side-effect counts and the replies kept under idempotency keys.
    ``after_effect``, called with the tool's name once a side effect is on record and
    before the reply goes back, is the place to simulate a crash that loses the reply.
    """

    def __init__(
        self,
        *,
        disk_percent: int = 95,
        clock: FrozenClock | None = None,
        durations: Mapping[str, float] | None = None,
        journal: str | os.PathLike[str] | None = None,
        after_effect: Callable[[str], None] | None = None,
    ) -> None:
        self.calls: Counter[str] = Counter()
        self.disk_percent = disk_percent
        self.deployed: list[str] = []
        self.replays = 0
        self.clock = clock
        self.durations = dict(durations or {})
        if self.durations and clock is None:
            raise ValueError("tool durations need the frozen clock they pass on")
        self.journal = Path(journal) if journal is not None else None
        self.after_effect = after_effect
        self._failures: dict[str, deque[Exception]] = {}
        self._kept: dict[str, tuple[str, dict[str, Any], str]] = {}
        self._replaying = False
        if self.journal is not None and self.journal.exists():
            self._replay(self.journal)

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

    def run(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """Run the tool ``name`` with keyword ``arguments``, honouring ``idempotency_key``."""
        tool = self._tools().get(name)
        if tool is None:
            raise UnknownTool(name)
        call = dict(arguments or {})
        if idempotency_key is not None and idempotency_key in self._kept:
            kept_name, kept_arguments, reply = self._kept[idempotency_key]
            if (kept_name, kept_arguments) != (name, call):
                raise ValueError(
                    f"idempotency key {idempotency_key} was used for {kept_name}"
                    f"({kept_arguments}), not {name}({call})"
                )
            self.replays += 1
            return reply
        reply = tool(**call)
        if idempotency_key is not None:
            self._kept[idempotency_key] = (name, call, reply)
        if name in SIDE_EFFECTS and not self._replaying:
            self._record(name, call, idempotency_key, reply)
            if self.after_effect is not None:
                self.after_effect(name)
        return reply

    def execute(self, name: str, arguments: str, *, idempotency_key: str | None = None) -> str:
        """Run a tool call as the model sends it: ``arguments`` is JSON text (``"{}"`` or
        empty for none). Text that is not a JSON object is a ValueError naming the tool."""
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError as error:
            raise ValueError(f"{name}: arguments are not JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"{name}: arguments must be a JSON object, not {arguments!r}")
        return self.run(name, parsed, idempotency_key=idempotency_key)

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
        if self._replaying:
            return
        if self.clock is not None and self.durations.get(name):
            self.clock.advance(self.durations[name])
        queue = self._failures.get(name)
        if queue:
            raise queue.popleft()

    # -- the journal -----------------------------------------------------------------------

    def _record(self, name: str, call: dict[str, Any], key: str | None, reply: str) -> None:
        if self.journal is None:
            return
        line = json.dumps({"tool": name, "arguments": call, "key": key, "reply": reply})
        with open(self.journal, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _replay(self, journal: Path) -> None:
        """Redo every side effect on record, silently. A last line cut short by a crash in
        the middle of its write never happened; anything else unreadable is an error."""
        lines = journal.read_text(encoding="utf-8").split("\n")
        self._replaying = True
        try:
            for number, line in enumerate(lines, start=1):
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    if number == len(lines):  # no newline after it: a torn last write
                        break
                    raise ValueError(f"{journal}: line {number} is not a journal entry") from None
                self.run(entry["tool"], entry["arguments"], idempotency_key=entry["key"])
        finally:
            self._replaying = False
