"""Grade a whole class.

    python -m grader batch SUBMISSIONS --out RESULTS [--workers N] [--lab LAB ...]

Each entry of SUBMISSIONS is one student's submission, named by the student's id: a
folder of lab modules, or a ``.zip`` of one. Every submission is graded by its own
``python -m grader`` process (its own sandboxes), ``--workers`` at a time, under a
progress bar. Results, every file written atomically:

- ``RESULTS/<student>/report.json`` and ``feedback.md``: the student's report, as JSON and
  as Markdown feedback;
- ``RESULTS/<student>/entry.json``: what was graded (a hash of the submission's files and
  of the grader) and how it went;
- ``RESULTS/grades.csv``: a row per student: each lab's score and maximum, the total, the
  labs passed, and the reason when a submission could not be graded;
- ``RESULTS/summary.html`` (with ``summary.png``): how many students missed each item.

A batch that is interrupted and run again picks up where it stopped: a student whose
submission and grader are unchanged since their ``entry.json`` was written is not graded
again. A submission that cannot be graded (a bad zip, a grader that gave no report) still
gets its row, with the reason; the batch always finishes.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.checklist import LABS, LABS_BY_ID, MODULE_FILES
from grader.files import (BadSubmission, extract_zip, gather_modules, tree_hash,
                          write_atomically)
from grader.formats import to_markdown
from grader.report import ItemResult, LabResult, Report
from grader.run import CHECKS
from grader.sandbox import ROOT, TRUSTED

#: Real seconds one student's grading may take in all before it is given up.
STUDENT_LIMIT = 3600.0


@dataclass(frozen=True)
class Submission:
    """One entry of the submissions folder."""

    student: str
    path: Path


@dataclass
class Entry:
    """How one student's grading went: what was graded, and the report or the reason."""

    student: str
    key: str = ""
    error: str | None = None
    reused: bool = False
    report: dict[str, Any] | None = None


def main(argv: Sequence[str]) -> int:
    cli = argparse.ArgumentParser(prog="python -m grader batch",
                                  description=__doc__.split("\n\n")[0])
    cli.add_argument("submissions", type=Path, help="a folder of submissions, one per student")
    cli.add_argument("--out", type=Path, required=True, help="the folder for the results")
    cli.add_argument("--workers", type=int, default=2, help="students graded at once")
    cli.add_argument("--lab", action="append", choices=list(LABS_BY_ID), metavar="LAB",
                     help="grade only this lab (repeatable)")
    cli.add_argument("--scenario-timeout", type=float, default=None,
                     help="real seconds one scenario may take (passed to each grading)")
    args = cli.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"grader batch: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("grader batch: --workers must be at least 1", file=sys.stderr)
        return 2
    entries = run_batch(args.submissions, args.out, workers=args.workers, labs=args.lab or (),
                        scenario_timeout=args.scenario_timeout)
    failed = sum(entry.error is not None for entry in entries)
    reused = sum(entry.reused for entry in entries)
    print(f"{len(entries)} submissions, {reused} of them unchanged since the last run (not "
          f"graded again): {len(entries) - failed} graded, {failed} could not be graded. "
          f"Results in {args.out}")
    return 0


def run_batch(submissions: Path, out: Path, *, workers: int = 2, labs: Sequence[str] = (),
              scenario_timeout: float | None = None, show_progress: bool = True) -> list[Entry]:
    """Grade every submission in ``submissions`` into ``out``; one entry per student."""
    found = discover(submissions)
    grader_hash = _grader_hash()
    options = [*(item for lab in labs for item in ("--lab", lab))]
    if scenario_timeout is not None:
        options += ["--scenario-timeout", repr(float(scenario_timeout))]  # 5 and 5.0 alike
    settings = json.dumps({"grader": grader_hash, "options": options})
    out.mkdir(parents=True, exist_ok=True)

    def grade_one(submission: Submission) -> Entry:
        try:
            return _grade_student(submission, out / submission.student, settings, options)
        except OSError as error:  # an unreadable submission, a full disk: the row says so
            return Entry(submission.student, error=f"the batch could not grade it: {error}")

    progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), disable=not show_progress)
    with progress, ThreadPoolExecutor(max_workers=workers) as pool:
        task = progress.add_task("grading", total=len(found))
        entries = []
        for future in as_completed([pool.submit(grade_one, s) for s in found]):
            entry = future.result()
            entries.append(entry)
            progress.update(task, advance=1, description=f"graded {entry.student}")
    entries.sort(key=lambda entry: entry.student)
    write_grades(out / "grades.csv", entries, labs)
    write_summary(out, entries, labs)
    return entries


def discover(submissions: Path) -> list[Submission]:
    """The submissions, by student id, in order; hidden files are left out. An entry that
    is neither a folder nor a ``.zip`` is still a submission: grading it says so."""
    found: dict[str, Submission] = {}
    for path in sorted(submissions.iterdir()):
        if path.name.startswith("."):
            continue
        student = path.stem if path.suffix.lower() == ".zip" else path.name
        if student in found:
            student = path.name  # alice/ and alice.zip: both graded, under their full names
        found[student] = Submission(student, path)
    return list(found.values())


def _grade_student(submission: Submission, folder: Path, settings: str,
                   options: list[str]) -> Entry:
    """Grade one submission unless its results are already there for these files and this
    grader; write its files; never raise for a bad submission."""
    entry = Entry(submission.student)
    with tempfile.TemporaryDirectory(prefix="batch-") as scratch:
        modules = Path(scratch) / "modules"
        modules.mkdir()
        try:
            _gather(submission, Path(scratch) / "unpacked", modules)
            content = tree_hash(modules, modules.iterdir())
        except BadSubmission as error:
            entry.error, content = str(error), ""
        entry.key = hashlib.sha256((settings + content + (entry.error or "")).encode()).hexdigest()
        previous = _read_entry(folder)
        if previous is not None and previous.key == entry.key:
            previous.reused = True
            return previous
        if entry.error is None:
            entry.report, entry.error = _grade(modules, submission.student, options)
    if entry.report is not None:
        write_atomically(folder / "report.json",
                         json.dumps(entry.report, indent=2, sort_keys=True, ensure_ascii=False)
                         + "\n")
        write_atomically(folder / "feedback.md", to_markdown(_report_of(entry.report)))
    else:
        for stale in ("report.json", "feedback.md"):
            (folder / stale).unlink(missing_ok=True)
    write_atomically(folder / "entry.json", json.dumps(
        {"student": entry.student, "key": entry.key, "error": entry.error}, indent=2) + "\n")
    return entry


def _gather(submission: Submission, scratch: Path, modules: Path) -> None:
    """Copy the submission's lab modules into ``modules`` (a zip is unpacked first)."""
    path = submission.path
    if path.is_file() and path.suffix.lower() == ".zip":
        path = extract_zip(path, scratch)
    elif not path.is_dir() or path.is_symlink():
        raise BadSubmission(f"{path.name} is neither a folder nor a .zip of lab modules")
    gather_modules(path, MODULE_FILES, modules)


def _grade(modules: Path, student: str, options: list[str]) -> tuple[dict[str, Any] | None,
                                                                      str | None]:
    """Run ``python -m grader`` on one submission; its report, or why there is none."""
    command = [sys.executable, "-m", "grader", "--impl", str(modules), "--name", student,
               "--format", "json", *options]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=STUDENT_LIMIT)
    except subprocess.TimeoutExpired:
        return None, f"grading did not finish within {STUDENT_LIMIT:g} s"
    if done.returncode not in (0, 1):
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return None, f"the grader could not grade it: {reason[0][:300]}"
    try:
        return json.loads(done.stdout), None
    except ValueError:
        return None, "the grader gave no report"


def _read_entry(folder: Path) -> Entry | None:
    """The entry written by an earlier run, when it is whole (report included)."""
    try:
        data = json.loads((folder / "entry.json").read_text(encoding="utf-8"))
        entry = Entry(student=data["student"], key=data["key"], error=data["error"])
        if entry.error is None:
            entry.report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        return entry
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _report_of(data: dict[str, Any]) -> Report:
    """A Report again from its JSON."""
    labs = [
        LabResult(lab["lab"], lab["title"], lab["module"], lab["status"],
                  [ItemResult(**{k: item[k] for k in ("id", "title", "done", "hint", "detail")})
                   for item in lab["items"]])
        for lab in data["labs"]
    ]
    return Report(impl=data["impl"], labs=labs, sandbox=data.get("sandbox", {}))


def _grader_hash() -> str:
    """What identifies this grader: its code, the kit's, the reference solutions'."""
    paths = [p for folder in TRUSTED for p in (ROOT / folder).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    return tree_hash(ROOT, paths)


# -- the class's files ------------------------------------------------------------------


def _graded_labs(labs: Sequence[str]) -> list[Any]:
    chosen = [LABS_BY_ID[lab] for lab in labs] if labs else list(LABS)
    return [lab for lab in chosen if (CHECKS / f"test_{lab.id}.py").exists()]


def write_grades(path: Path, entries: list[Entry], labs: Sequence[str] = ()) -> None:
    """``grades.csv``: a row per student, in student order."""
    graded = _graded_labs(labs)
    header = ["student"]
    for lab in graded:
        header += [f"{lab.id}_score", f"{lab.id}_max"]
    header += ["total", "max_total", "labs_passed", "error"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for entry in sorted(entries, key=lambda e: e.student):
        results = {lab["lab"]: lab for lab in (entry.report or {}).get("labs", [])}
        row: list[Any] = [entry.student]
        total = max_total = passed = 0
        for lab in graded:
            result = results.get(lab.id, {})
            score, maximum = result.get("score", 0), len(lab.items)
            row += [score, maximum]
            total, max_total = total + score, max_total + maximum
            passed += bool(result.get("passed"))
        writer.writerow([*row, total, max_total, passed, entry.error or ""])
    write_atomically(path, buffer.getvalue())


def misses(entries: list[Entry], labs: Sequence[str] = ()) -> list[tuple[str, int]]:
    """``(item id, students who did not do it)`` for every item of the graded labs, over
    the students that were graded."""
    counts = {item.id: 0 for lab in _graded_labs(labs) for item in lab.items}
    for entry in entries:
        for lab in (entry.report or {}).get("labs", []):
            for item in lab["items"]:
                if item["id"] in counts and not item["done"]:
                    counts[item["id"]] += 1
    return list(counts.items())


def write_summary(out: Path, entries: list[Entry], labs: Sequence[str] = ()) -> None:
    """``summary.png``, a bar per item (the students who missed it), and ``summary.html``
    with that chart, a table of the labs, and the submissions that could not be graded."""
    missed = misses(entries, labs)
    graded = [e for e in entries if e.report is not None]
    png = _chart(missed, len(graded))
    write_atomically(out / "summary.png", png)
    rows = []
    for lab in _graded_labs(labs):
        passed = sum(1 for e in graded for r in e.report["labs"]  # type: ignore[index]
                     if r["lab"] == lab.id and r["passed"])
        rows.append(f"<tr><td>{lab.id}</td><td>{escape(lab.title)}</td>"
                    f"<td>{passed} of {len(graded)}</td></tr>")
    failures = "".join(f"<li><b>{escape(e.student)}</b>: {escape(e.error or '')}</li>"
                       for e in sorted(entries, key=lambda e: e.student) if e.error)
    worst = sorted(missed, key=lambda pair: (-pair[1], pair[0]))[:10]
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Class summary</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}
td,th{{padding:.2em .8em;text-align:left}}</style></head><body>
<h1>Class summary</h1>
<p>{len(entries)} submissions, {len(graded)} graded, {len(entries) - len(graded)} could not be graded.</p>
<h2>Labs passed</h2>
<table><tr><th>lab</th><th>title</th><th>passed</th></tr>{''.join(rows)}</table>
<h2>Items missed, by how many students</h2>
<img alt="students who missed each item" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Most missed</h2>
<ol>{''.join(f"<li><code>{escape(item)}</code>: {count}</li>" for item, count in worst)}</ol>
<h2>Could not be graded</h2>
<ul>{failures or '<li>none</li>'}</ul>
</body></html>
"""
    write_atomically(out / "summary.html", html)


def _chart(missed: list[tuple[str, int]], graded: int) -> bytes:
    """A horizontal bar per item: how many of the graded students missed it."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 0.25 * len(missed) + 1.2), dpi=100)
    axes = figure.subplots()
    names = [item for item, _ in missed][::-1]
    counts = [count for _, count in missed][::-1]
    axes.barh(names, counts, color="#D55E00")
    axes.set_xlim(0, max(graded, 1))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(f"students who missed the item (of {graded} graded)")
    axes.tick_params(axis="y", labelsize=7)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()
