"""Export a Gradescope autograder, and run it on Gradescope.

    python -m grader gradescope OUT.zip [--lab LAB ...]   write the autograder zip
    python -m grader gradescope run                       grade /autograder/submission

The zip holds, at its root, Gradescope's two files (its autograder specification) and
the kit's source: ``setup.sh`` installs the kit in a virtual environment, and
``run_autograder`` runs ``python -m grader gradescope run``, which finds the lab modules
in the submission, grades them, and writes ``results/results.json``. With ``--lab`` it
grades only those labs (one Gradescope assignment per lab, say; the capstone's takes the
student's labs 01 to 07); the choice travels in the zip as ``autograder.json``. The
results are written whatever happens: when grading itself fails, they say so, with a
score of 0. Gradescope runs every submission in a container of its own; the grader's
sandbox works inside it as far as the container lets it, and says what it could not
fence in.

``AUTOGRADER_ROOT`` (default ``/autograder``) and ``AUTOGRADER_PYTHON`` move the whole
layout elsewhere, so that a test can run ``run_autograder`` against a folder laid out like
Gradescope's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from grader.checklist import LABS, MODULE_FILES
from grader.files import BadSubmission, gather_modules, write_atomically
from grader.formats import gradescope_failure
from grader.sandbox import ROOT

#: What of the repository the autograder needs: the grader, the kit, the references.
SOURCES = ("pyproject.toml", "README.md", "grader", "labs", "solutions")
#: The autograder's settings file, at the zip's root (in ``/autograder/source``).
SETTINGS = "autograder.json"
#: Real seconds the whole grading may take on Gradescope before it is given up.
GRADING_LIMIT = 3000.0

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install --editable /autograder/source
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. results/results.json is always written: by
# the grader, or, if the grader cannot even start, here.
root="${AUTOGRADER_ROOT:-/autograder}"
python="${AUTOGRADER_PYTHON:-$root/venv/bin/python}"
mkdir -p "$root/results"
cd "$root/source" && "$python" -m grader gradescope run --root "$root"
if [ ! -s "$root/results/results.json" ]; then
  printf '%s\\n' '{"score": 0, "tests": [], "visibility": "visible",' \\
    '"output": "The autograder could not start; please tell your instructor."}' \\
    > "$root/results/results.json"
fi
exit 0
"""


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "run":
        return run(argv[1:])
    cli = argparse.ArgumentParser(prog="python -m grader gradescope",
                                  description="Write a Gradescope autograder zip.")
    cli.add_argument("zip", type=Path, help="the autograder zip to write")
    cli.add_argument("--lab", action="append", choices=[lab.id for lab in LABS],
                     metavar="LAB", help="grade only this lab (repeatable; default: all)")
    args = cli.parse_args(argv)
    count = export(args.zip, args.lab or ())
    print(f"the Gradescope autograder: {count} files in {args.zip} "
          "(upload it as the assignment's autograder)")
    return 0


def export(target: Path, labs: Sequence[str] = ()) -> int:
    """Write the autograder zip, grading ``labs`` (all when empty); the number of files in
    it. Written beside ``target`` and renamed into place, so an upload never picks up half
    a zip."""
    files = [path for name in SOURCES for path in _walk(ROOT / name)]
    with tempfile.NamedTemporaryFile(prefix=f".{target.name}.", dir=target.parent or ".",
                                     delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
            settings = json.dumps({"labs": list(labs)}, indent=2) + "\n"
            for name, text in (("setup.sh", SETUP), ("run_autograder", RUN_AUTOGRADER),
                               (SETTINGS, settings)):
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = 0o100755 << 16
                bundle.writestr(info, text)
            for path in files:
                bundle.write(path, path.relative_to(ROOT).as_posix())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return len(files) + 3


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def run(argv: Sequence[str]) -> int:
    """Grade the submission and write ``results/results.json``; always exit 0."""
    cli = argparse.ArgumentParser(prog="python -m grader gradescope run")
    cli.add_argument("--root", type=Path,
                     default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    args = cli.parse_args(argv)
    results = args.root / "results" / "results.json"
    try:
        settings = json.loads((args.root / "source" / SETTINGS).read_text(encoding="utf-8"))
        write_atomically(results, _grade(args.root / "submission", settings.get("labs", [])))
    except Exception as error:  # noqa: BLE001 - Gradescope must get an answer
        write_atomically(results, gradescope_failure(f"{type(error).__name__}: {error}"))
    return 0


def _grade(submission: Path, labs: Sequence[str]) -> str:
    """The submission's ``results.json``: its lab modules (found anywhere in it, the
    shallowest of each name) graded in a folder of their own."""
    if not submission.is_dir():
        return gradescope_failure("no submission folder")
    with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
        try:
            gather_modules(submission, MODULE_FILES, Path(scratch))
        except BadSubmission as error:
            return gradescope_failure(str(error))
        command = [sys.executable, "-m", "grader", "--impl", scratch, "--name", "submission",
                   "--format", "gradescope", *(part for lab in labs for part in ("--lab", lab))]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=GRADING_LIMIT)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return gradescope_failure(f"the grader could not run: {last[:300]}")
    return done.stdout
