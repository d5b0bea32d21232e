"""The grade report and its renderings (JSON, the canonical form; text, for a terminal).

JSON shape (SPEC, "The grader")::

    {"impl": "...", "sandbox": {...},
     "labs": [{"lab": "lab01", "title": "...", "module": "lab01_retry.py", "status": "graded",
               "passed": false, "score": 7, "max_score": 8,
               "items": [{"id": "lab01.exponential-backoff", "title": "...", "done": false,
                          "hint": "...", "detail": "..."}]}]}

``status`` is ``graded``, or ``not built`` for a lab the kit has no checks for yet. ``hint``
is null for a done item. Keys are sorted and nothing varies between runs (no timestamps, no
absolute paths), so the same submission gives byte-identical JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


@dataclass
class ItemResult:
    id: str
    title: str
    done: bool
    hint: str | None
    detail: str


@dataclass
class LabResult:
    lab: str
    title: str
    module: str
    status: str
    items: list[ItemResult]

    @property
    def score(self) -> int:
        return sum(item.done for item in self.items)

    @property
    def max_score(self) -> int:
        return len(self.items)

    @property
    def passed(self) -> bool:
        """Passed ("Сдано") only when every item is done."""
        return self.status == "graded" and self.score == self.max_score

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(passed=self.passed, score=self.score, max_score=self.max_score)
        return data


@dataclass
class Report:
    impl: str
    labs: list[LabResult]
    sandbox: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "impl": self.impl,
            "sandbox": self.sandbox,
            "labs": [lab.as_dict() for lab in self.labs],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_text(report: Report, console: Console) -> None:
    """The checklist a student reads at a glance: ✅ / ❌ per item, what was seen and the
    hint under each ❌, and each lab's verdict. Wrapped lines stay under their item."""
    console.print(f"[bold]Grading[/] {escape(report.impl)}")
    for lab in report.labs:
        console.print()
        header = f"[bold]{lab.lab}[/] {escape(lab.title)} [dim]({lab.module})[/]"
        if lab.status != "graded":
            console.print(f"{header}: [dim]{escape(lab.status)} yet in this kit[/]")
            continue
        console.print(header)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=2)
        grid.add_column(width=2)
        grid.add_column()
        for item in lab.items:
            lines = [f"{escape(item.title)} [dim]{item.id}[/]"]
            if not item.done:
                if item.detail:
                    lines.append(f"[yellow]seen:[/] {escape(item.detail)}")
                lines.append(f"[cyan]hint:[/] {escape(item.hint or '')}")
            grid.add_row("", "✅" if item.done else "❌", "\n".join(lines))
        console.print(grid)
        verdict = "[green]passed (Сдано)[/]" if lab.passed else "[red]not passed (Не сдано)[/]"
        console.print(f"   {lab.score}/{lab.max_score} done: {verdict}")
    problems = {k: v for k, v in report.sandbox.items() if v != "isolated"}
    if problems:
        console.print()
        for what, why in sorted(problems.items()):
            console.print(f"[yellow]sandbox:[/] {what} not isolated: {escape(str(why))}")
