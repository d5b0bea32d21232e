"""The grader's command line: bad input gets a clear error, and reports are stable."""

from __future__ import annotations

import shutil
import subprocess
import sys

from rich.console import Console

import grader.run
from grader.report import render_text
from tests.conftest import REPO, grade_json, items_of, run_grader


def test_unknown_lab_is_a_usage_error():
    done = run_grader("solutions", "lab99")
    assert done.returncode == 2
    assert "invalid choice: 'lab99'" in done.stderr


def test_missing_folder_is_a_clear_error():
    done = run_grader("no/such/folder", "lab01")
    assert done.returncode == 2
    assert "no/such/folder is not a folder of lab modules" in done.stderr


def test_missing_module_marks_every_item_not_done(tmp_path):
    report = grade_json(tmp_path, "lab01")
    for item in items_of(report, "lab01").values():
        assert not item["done"]
        assert item["detail"] == "lab01_retry.py was not found in the submission"


def test_symlinked_module_is_refused(tmp_path):
    (tmp_path / "lab01_retry.py").symlink_to(REPO / "solutions" / "lab01_retry.py")
    items = items_of(grade_json(tmp_path, "lab01"), "lab01")
    assert {item["detail"] for item in items.values()} == {"lab01_retry.py is not a regular file"}


def test_text_checklist_shows_marks_hints_and_verdict(tmp_path):
    shutil.copy(REPO / "labs" / "lab01_retry.py", tmp_path)
    done = run_grader_text(tmp_path, "--lab", "lab01")
    assert done.returncode == 1
    assert done.stdout.count("❌") == 8 and "✅" not in done.stdout
    assert done.stdout.count("hint: Symptom:") == 8
    assert "0/8 done: not passed (Не сдано)" in done.stdout


def test_a_lab_without_checks_is_reported_not_built(tmp_path, monkeypatch):
    """A lab whose checks are not there yet (a kit being extended) is no crash."""
    monkeypatch.setattr(grader.run, "is_built", lambda lab: lab.id != "lab07")
    report = grader.run.grade(REPO / "labs", ["lab07"])
    (lab,) = report.labs
    assert lab.status == "not built" and not lab.passed
    assert {item.detail for item in lab.items} == {"lab not built yet"}
    console = Console(record=True, width=100, color_system=None)
    render_text(report, console)
    assert "lab07 Capstone: the durable DevOps agent (lab07_durable_agent.py): not built yet" \
        in console.export_text()


def test_all_done_exits_zero_with_passed_verdict():
    done = run_grader_text(REPO / "solutions", "--lab", "lab01")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("✅") == 8 and "❌" not in done.stdout
    assert "8/8 done: passed (Сдано)" in done.stdout


def test_same_submission_same_json():
    """Every built lab, twice: byte-identical reports (races and threads included)."""
    first = run_grader("solutions")
    second = run_grader("solutions")
    assert first.returncode == second.returncode == 0  # every graded lab passed
    assert first.stdout == second.stdout


def run_grader_text(impl, *args):
    """The text checklist, on a terminal wide enough that no line wraps."""
    command = [sys.executable, "-m", "grader", "--impl", str(impl), *args]
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
