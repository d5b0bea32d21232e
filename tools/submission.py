"""Grade one lab module's source as a submission: what the tools that test the grader share.

:func:`snapshot` copies the grader, the kit and the solutions once per run, so that the kit
can be edited while a long run goes on without changing the grader half-way or tripping its
check that its own files stay unchanged. :func:`grade_source` writes a module into a fresh
folder (with the reference solutions of the labs it composes beside it, as a capstone
submission needs), runs ``python -m grader --lab LAB --format json`` on it from that copy,
and returns which items were not done and why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from grader.checklist import LABS_BY_ID  # noqa: E402

#: What the grader runs on: copied once per run (see :func:`snapshot`).
KIT_PARTS = ("grader", "labs", "solutions")


def snapshot(into: Path, source: Path = ROOT) -> Path:
    """A copy of ``source``'s grader, kit and solutions in ``into``; the folder to grade from."""
    for part in KIT_PARTS:
        shutil.copytree(source / part, into / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


@dataclass
class Graded:
    """One grading: ``failed`` maps each item not done to its detail; ``error`` is set
    (and ``failed`` empty) when the grader itself produced no report."""

    lab: str
    failed: dict[str, str] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


def grade_source(lab_id: str, source: str, *, kit: Path = ROOT,
                 scenario_timeout: float | None = None) -> Graded:
    """Grade ``source`` as the student's module of lab ``lab_id``, with the grader in ``kit``."""
    lab = LABS_BY_ID[lab_id]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
        folder = Path(scratch)
        (folder / f"{lab.module}.py").write_text(source, encoding="utf-8")
        for earlier in lab.composes:
            module = f"{LABS_BY_ID[earlier].module}.py"
            shutil.copyfile(SOLUTIONS / module, folder / module)
        command = [sys.executable, "-m", "grader", "--impl", str(folder), "--lab", lab.id,
                   "--format", "json"]
        if scenario_timeout is not None:
            command += ["--scenario-timeout", str(scenario_timeout)]
        done = subprocess.run(command, cwd=kit, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 2)
    try:
        (result,) = json.loads(done.stdout)["labs"]
        items = result["items"]
    except (ValueError, KeyError, TypeError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Graded(lab_id, error=f"exit {done.returncode}: {tail}", seconds=seconds)
    failed = {item["id"]: str(item["detail"]) for item in items if not item["done"]}
    return Graded(lab_id, failed=failed, seconds=seconds)
