"""Batch grading a class (SPEC, "Instructor workflow"): 30 submissions, killed half-way.

The class is 30 submissions of lab 01, every kind an instructor meets: the reference
solution handed in as a folder, a flat zip, a zip with a top folder and a nested
``labs/`` folder; the stubs; twelve mutants; four hostile submissions; and five that cannot
be graded (a zip that is not one, an empty zip, a zip that climbs out with ``../``, a
folder with no lab module, a stray text file).

``python -m grader batch`` is started on it as a student's instructor would, and killed
with SIGKILL, its whole process group, once ten students are finished. Then:

- every result file on disk is whole (each was written atomically) and no sandbox runs on;
- the batch run again finishes with 30 rows, and none of the students finished before the
  kill is graded again;
- each row says what that submission is: 8 of 8 for the solutions, 0 for the stubs, the
  mutant's item not done, the reason for each one that could not be graded;
- a third run grades nobody; after one submission changes, it grades only that one.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.batch import misses, run_batch
from grader.checklist import LABS_BY_ID
from grader.sandbox import ROOT
from tests.hostile import CASES_BY_NAME, write
from tests.mutants import lab01 as lab01_mutants
from tests.mutants.base import materialise

MODULE = f"{LABS_BY_ID['lab01'].module}.py"
SOLUTION = ROOT / "solutions" / MODULE
STUB = ROOT / "labs" / MODULE
OPTIONS = ["--lab", "lab01", "--scenario-timeout", "5"]
#: Students finished before the batch is killed.
KILL_AFTER = 10
#: Real seconds the killed batch may take to reach :data:`KILL_AFTER` (a guard, not a
#: measure: it takes a tenth of that).
GUARD = 600.0
MUTANTS = {m.name: m for m in lab01_mutants.MUTANTS}
CHOSEN_MUTANTS = (
    "timeouts-not-transient", "constant-backoff", "sleeps-after-last-attempt",
    "raises-last-error-raw", "retries-every-http-error", "ignores-retry-after",
    "server-delay-uncapped", "no-cap", "jitter-from-global-random", "keeps-client-retries",
    "counts-retries-not-attempts", "retry-after-ms-as-seconds",
)
HOSTILE = ("fails_to_import", "does_not_parse", "exits_at_import",
           "patches_pytest_and_answers_equal")


@dataclass(frozen=True)
class Expected:
    """What a student's row must say: the lab 01 score, or the reason it has none."""

    score: int | None = None
    missed: frozenset[str] | None = None
    error: str | None = None


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def make_class(folder: Path) -> dict[str, Expected]:
    """Write the 30 submissions into ``folder``; what each row must say, by student."""
    folder.mkdir()
    expected: dict[str, Expected] = {}
    solution, stub = SOLUTION.read_bytes(), STUB.read_bytes()

    (folder / "sol-folder").mkdir()
    (folder / "sol-folder" / MODULE).write_bytes(solution)
    _zip(folder / "sol-flat.zip", {MODULE: solution})
    _zip(folder / "sol-top.zip", {f"lab01/{MODULE}": solution, "lab01/notes.txt": b"hi"})
    (folder / "sol-nested" / "labs").mkdir(parents=True)
    (folder / "sol-nested" / "labs" / MODULE).write_bytes(solution)
    (folder / "sol-nested" / "README.md").write_text("my labs are under labs/\n")
    (folder / "sol-copy").mkdir()
    (folder / "sol-copy" / MODULE).write_bytes(solution)
    for name in ("sol-folder", "sol-flat", "sol-top", "sol-nested", "sol-copy"):
        expected[name] = Expected(score=8)

    for index in range(3):
        (folder / f"stub-{index}").mkdir()
        (folder / f"stub-{index}" / MODULE).write_bytes(stub)
        expected[f"stub-{index}"] = Expected(score=0)
    _zip(folder / "stub-zip.zip", {MODULE: stub})
    expected["stub-zip"] = Expected(score=0)

    for name in CHOSEN_MUTANTS:
        materialise(MUTANTS[name], folder / f"mutant-{name}")
        expected[f"mutant-{name}"] = Expected(missed=MUTANTS[name].items)

    values = {"token": "123456789", "home": "/nonexistent", "host_ip": "127.0.0.1", "port": 9}
    for name in HOSTILE:
        write(CASES_BY_NAME[name], folder / f"hostile-{name}", **values)
        expected[f"hostile-{name}"] = Expected(score=0)

    (folder / "not-a-zip.zip").write_text("this is a Word document, honest\n")
    expected["not-a-zip"] = Expected(error="not a zip file")
    _zip(folder / "empty.zip", {})
    expected["empty"] = Expected(error="is empty")
    _zip(folder / "climber.zip", {MODULE: solution, "../../escaped.py": b"print('out')\n"})
    expected["climber"] = Expected(error="tries to write outside its folder")
    (folder / "no-modules").mkdir()
    (folder / "no-modules" / "answers.txt").write_text("I did it on paper\n")
    expected["no-modules"] = Expected(error="no lab module was found")
    (folder / "stray.txt").write_text("not a submission\n")
    expected["stray.txt"] = Expected(error="neither a folder nor a .zip")
    return expected


def _sandboxes_under(folder: Path) -> list[int]:
    """Processes whose working directory is under ``folder`` (a grader's sandboxes work in
    its temporary folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _rows(results: Path) -> dict[str, dict[str, str]]:
    with open(results / "grades.csv", newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def _report(results: Path, student: str) -> dict[str, Any]:
    return json.loads((results / student / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The class, batch-graded once with a kill half-way and once to the end."""
    base = tmp_path_factory.mktemp("batch")
    submissions, results, scratch = base / "submissions", base / "results", base / "tmp"
    expected = make_class(submissions)
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    killed = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(results),
         "--workers", "2", *OPTIONS],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    started = time.monotonic()
    try:
        while len(list(results.glob("*/entry.json"))) < KILL_AFTER:
            assert killed.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() - started < GUARD, "the batch is stuck"
            time.sleep(0.05)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    finished = {path.parent.name: path.read_bytes()
                for path in results.glob("*/entry.json")}
    reports = {path.parent.name: path.stat().st_mtime_ns for path in results.glob("*/report.json")}
    leftovers = _sandboxes_under(scratch)
    for _ in range(100):  # the kernel takes the orphans down a moment after their grader
        if not leftovers:
            break
        time.sleep(0.05)
        leftovers = _sandboxes_under(scratch)

    rerun = run_batch(submissions, results, workers=2, labs=["lab01"], scenario_timeout=5,
                      show_progress=False)
    return {"expected": expected, "submissions": submissions, "results": results,
            "finished": finished, "reports": reports, "leftovers": leftovers, "rerun": rerun}


def test_the_class_is_thirty_submissions(batch):
    assert len(batch["expected"]) == 30


def test_the_kill_left_whole_files_and_no_sandbox(batch):
    assert len(batch["finished"]) >= KILL_AFTER
    for student, data in batch["finished"].items():
        entry = json.loads(data)  # a half-written file would not parse
        assert entry["student"] == student
    for student in batch["reports"]:
        _report(batch["results"], student)
    assert batch["leftovers"] == [], "sandboxes ran on after their batch was killed"
    leftover = [p.name for p in batch["results"].rglob(".*.tmp")]
    assert leftover == [], f"temporary files of an interrupted write were left: {leftover}"


def test_rerun_does_not_regrade_finished_students(batch):
    by_student = {entry.student: entry for entry in batch["rerun"]}
    assert sorted(by_student) == sorted(batch["expected"])
    for student, data in batch["finished"].items():
        assert by_student[student].reused, f"{student} was graded again"
        assert (batch["results"] / student / "entry.json").read_bytes() == data
    for student, mtime in batch["reports"].items():
        assert (batch["results"] / student / "report.json").stat().st_mtime_ns == mtime
    unfinished = set(batch["expected"]) - set(batch["finished"])
    assert unfinished and all(not by_student[s].reused for s in unfinished)


def test_every_row_says_what_the_submission_is(batch):
    rows = _rows(batch["results"])
    assert sorted(rows) == sorted(batch["expected"])
    for student, expected in batch["expected"].items():
        row = rows[student]
        assert row["lab01_max"] == "8" and row["max_total"] == "8"
        if expected.error is not None:
            assert expected.error in row["error"], (student, row["error"])
            assert row["lab01_score"] == "0" and row["labs_passed"] == "0"
            assert not (batch["results"] / student / "report.json").exists()
            continue
        assert row["error"] == "", (student, row["error"])
        items = {item["id"]: item for item in _report(batch["results"], student)["labs"][0]["items"]}
        if expected.score is not None:
            assert row["lab01_score"] == str(expected.score), (student, row)
            assert row["labs_passed"] == ("1" if expected.score == 8 else "0")
        if expected.missed is not None:
            assert {i for i, item in items.items() if not item["done"]} >= expected.missed, \
                (student, expected.missed)
            assert row["labs_passed"] == "0"
        feedback = (batch["results"] / student / "feedback.md").read_text(encoding="utf-8")
        assert f"{row['lab01_score']}/8" in feedback


def test_the_summary_counts_who_missed_each_item(batch):
    results = batch["results"]
    html = (results / "summary.html").read_text(encoding="utf-8")
    assert "30 submissions, 25 graded, 5 could not be graded" in html
    for student in ("not-a-zip", "empty", "climber", "no-modules", "stray.txt"):
        assert f"<b>{student}</b>" in html
    assert (results / "summary.png").read_bytes().startswith(b"\x89PNG")
    counted = dict(misses(batch["rerun"], ["lab01"]))
    on_disk = {item: 0 for item in counted}
    for report in results.glob("*/report.json"):
        for item in json.loads(report.read_text(encoding="utf-8"))["labs"][0]["items"]:
            on_disk[item["id"]] += not item["done"]
    assert counted == on_disk
    assert min(counted.values()) >= 8  # the 4 stubs and the 4 hostile ones miss everything
    item, count = max(sorted(counted.items()), key=lambda pair: pair[1])
    assert f"<code>{item}</code>: {count}</li>" in html


def test_an_unchanged_class_is_not_graded_again(batch):
    again = run_batch(batch["submissions"], batch["results"], workers=2, labs=["lab01"],
                      scenario_timeout=5, show_progress=False)
    assert [e.student for e in again if not e.reused] == []
    changed = batch["submissions"] / "stub-1" / MODULE
    changed.write_text(SOLUTION.read_text(encoding="utf-8"), encoding="utf-8")
    after = run_batch(batch["submissions"], batch["results"], workers=2, labs=["lab01"],
                      scenario_timeout=5, show_progress=False)
    assert [e.student for e in after if not e.reused] == ["stub-1"]
    assert _rows(batch["results"])["stub-1"]["lab01_score"] == "8"
