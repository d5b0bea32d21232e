"""Shared helpers for the kit's own tests: grade a folder with the real CLI, read items."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_grader(impl: Path | str, *labs: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m grader --impl IMPL --format json [--lab ...]`` as a student would run it.

    ``timeout`` is the grader's own per-scenario limit, not a limit on this call.
    """
    command = [sys.executable, "-m", "grader", "--impl", str(impl), "--format", "json"]
    for lab in labs:
        command += ["--lab", lab]
    if timeout is not None:
        command += ["--scenario-timeout", str(timeout)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def grade_json(impl: Path | str, *labs: str, timeout: float | None = None) -> dict[str, Any]:
    """The JSON report; fails the test with the grader's stderr if it did not produce one."""
    done = run_grader(impl, *labs, timeout=timeout)
    assert done.returncode in (0, 1), f"grader exit {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def items_of(report: dict[str, Any], lab: str) -> dict[str, dict[str, Any]]:
    """``{item id: item}`` for one lab of a report."""
    (entry,) = [entry for entry in report["labs"] if entry["lab"] == lab]
    return {item["id"]: item for item in entry["items"]}


def lab_module(lab: str) -> str:
    from grader.checklist import LABS_BY_ID

    return LABS_BY_ID[lab].module


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
