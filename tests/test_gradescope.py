"""The Gradescope autograder (SPEC, "Instructor workflow"), run as Gradescope runs it.

The zip ``python -m grader gradescope`` writes is unpacked into a temporary folder laid out
like Gradescope's (``source/``, ``submission/``, ``results/``), and its ``run_autograder`` is
run with ``AUTOGRADER_ROOT`` pointing there and ``AUTOGRADER_PYTHON`` at this environment's
Python (``setup.sh`` installs one with apt-get, which a test cannot do). ``results.json``
must be written in every case, in Gradescope's shape: for a submission (nested in folders
the way students upload), for the stubs, for a submission with no lab module, and when
the Python that runs the grader is missing altogether.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.checklist import LABS_BY_ID
from grader.sandbox import ROOT

LAB = LABS_BY_ID["lab01"]
MODULE = f"{LAB.module}.py"


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grader", "gradescope", str(target),
                           "--lab", "lab01"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return target


def _lay_out(archive: Path, root: Path) -> Path:
    """Unpack the autograder as Gradescope does: its files in ``root/source``, modes kept."""
    source = root / "source"
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            path = Path(bundle.extract(member, source))
            mode = member.external_attr >> 16
            if mode:
                path.chmod(stat.S_IMODE(mode))
    (root / "submission").mkdir()
    return root


def _run_autograder(root: Path, python: str = sys.executable) -> dict[str, Any]:
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=python)
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def _assert_gradescope_shape(results: dict[str, Any]) -> None:
    """Gradescope's results.json: a total score, and per test a score out of a max."""
    assert isinstance(results["score"], (int, float))
    assert results["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output"}
        assert test["status"] in ("passed", "failed")
        assert test["score"] == (test["max_score"] if test["status"] == "passed" else 0)
    assert results["score"] == sum(test["score"] for test in results["tests"])


def test_the_zip_is_an_autograder(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as bundle:
        names = set(bundle.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in bundle.infolist()}
        settings = json.loads(bundle.read("autograder.json"))
    assert {"setup.sh", "run_autograder", "pyproject.toml", "grader/__main__.py",
            f"solutions/{MODULE}", f"labs/{MODULE}"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert settings == {"labs": ["lab01"]}
    assert not [n for n in names if "__pycache__" in n or n.startswith((".venv", "tests/"))]


def test_a_nested_submission_gets_its_points(autograder_zip, tmp_path):
    root = _lay_out(autograder_zip, tmp_path / "autograder")
    nested = root / "submission" / "my-work" / "labs"
    nested.mkdir(parents=True)
    shutil.copyfile(ROOT / "solutions" / MODULE, nested / MODULE)
    results = _run_autograder(root)
    _assert_gradescope_shape(results)
    assert [t["number"] for t in results["tests"]] == [item.id for item in LAB.items]
    assert results["score"] == len(LAB.items)
    assert all(t["status"] == "passed" and t["output"] == "" for t in results["tests"])


def test_the_stubs_get_the_hints(autograder_zip, tmp_path):
    root = _lay_out(autograder_zip, tmp_path / "autograder")
    shutil.copyfile(ROOT / "labs" / MODULE, root / "submission" / MODULE)
    results = _run_autograder(root)
    _assert_gradescope_shape(results)
    assert results["score"] == 0 and len(results["tests"]) == len(LAB.items)
    hints = {item.id: item.hint for item in LAB.items}
    for test in results["tests"]:
        assert test["status"] == "failed"
        assert "not implemented" in test["output"]
        assert f"Hint: {hints[test['number']]}" in test["output"]


def test_a_submission_without_lab_modules_still_gets_results(autograder_zip, tmp_path):
    root = _lay_out(autograder_zip, tmp_path / "autograder")
    (root / "submission" / "essay.pdf").write_bytes(b"%PDF-1.4 not code\n")
    results = _run_autograder(root)
    _assert_gradescope_shape(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "no lab module was found" in results["output"]


def test_a_missing_python_still_gets_results(autograder_zip, tmp_path):
    root = _lay_out(autograder_zip, tmp_path / "autograder")
    shutil.copyfile(ROOT / "solutions" / MODULE, root / "submission" / MODULE)
    results = _run_autograder(root, python=str(tmp_path / "no-such-python"))
    _assert_gradescope_shape(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "could not start" in results["output"]
