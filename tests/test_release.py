"""The student bundle (SPEC, "Instructor workflow"): complete, clean, and it installs.

- ``release`` writes the stubs, the kit, the notebooks cleared of outputs, a README and a
  pyproject; no reference solution and no hidden scenario or check;
- the leak scan finds nothing in it, and finds every kind of leak planted in a copy: a
  solution module, a solution's function in a stub, a hidden scenario under a new name, a
  solution's line in a notebook cell; a release whose build leaks writes nothing;
- the bundle installs in a fresh virtual environment exactly as its README says, and every
  notebook runs there top to bottom against the stubs, in a kernel that cannot see this
  repository: a cell may stop with an error only where it is tagged ``raises-exception``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import release as release_module
from grader.checklist import LABS
from grader.release import LeakFound, leaks, release
from grader.sandbox import ROOT

#: A notebook's run in the bundle: each cell's tags and the error it ended with, as JSON.
RUN_NOTEBOOK = """
import json, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}})
problem = None
try:
    client.execute()
except CellExecutionError as error:
    problem = str(error)[-3000:]
cells = [
    {"tags": cell.metadata.get("tags", []), "source": cell.source[:200],
     "errors": [o.get("ename") for o in cell.get("outputs", []) if o.output_type == "error"],
     "ran": cell.get("execution_count") is not None}
    for cell in notebook.cells if cell.cell_type == "code"
]
print(json.dumps({"problem": problem, "cells": cells}))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bundle"
    release(out)
    return out


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_bundle_holds_what_students_need_and_nothing_hidden(bundle):
    files = _files(bundle)
    for lab in LABS:
        assert f"labs/{lab.module}.py" in files
        assert (bundle / "labs" / f"{lab.module}.py").read_bytes() == \
            (ROOT / "labs" / f"{lab.module}.py").read_bytes()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{notebook.name}" in files
    assert {"README.md", "pyproject.toml", "labs/kit/fake_llm.py", "labs/kit/clock.py",
            "labs/kit/selfcheck/lab01.py"} <= files
    assert not [f for f in files if f.startswith(("solutions/", "grader/", "tests/"))]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    assert "{labs}" not in readme
    for lab in LABS:
        assert f"`labs/{lab.module}.py`" in readme


def test_the_bundle_notebooks_are_cleared_and_say_how_to_hand_in(bundle):
    for path in sorted((bundle / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for cell in cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
            assert "kit-only" not in cell.metadata.get("tags", []), path.name
            assert "dev.py" not in cell.source and "python -m grader" not in cell.source, \
                f"{path.name}: students have no grader to run:\n{cell.source[:300]}"
        notes = [c for c in cells if c.source.startswith("Then hand in your `labs/` modules")]
        assert len(notes) == 1, path.name
        assert len(cells) == len(nbformat.read(ROOT / "notebooks" / path.name,
                                               as_version=4).cells) - 1


def test_the_leak_scan_finds_nothing_in_the_bundle(bundle):
    assert leaks(bundle) == []


def _planted(bundle: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(bundle, copy)
    return copy


def _solution_function(module: str, name: str) -> str:
    """The source of one function of a reference solution."""
    import ast

    text = (ROOT / "solutions" / f"{module}.py").read_text(encoding="utf-8")
    (node,) = [n for n in ast.walk(ast.parse(text))
               if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.get_source_segment(text, node) or ""


@pytest.mark.parametrize("how", ["solution-module", "solution-function-in-a-stub",
                                 "hidden-scenario-renamed", "solution-line-in-a-notebook"])
def test_the_leak_scan_finds_a_planted_leak(bundle, tmp_path, how):
    copy = _planted(bundle, tmp_path, how)
    if how == "solution-module":
        target = copy / "solutions" / "lab03_deadlines.py"
        target.parent.mkdir()
        shutil.copyfile(ROOT / "solutions" / "lab03_deadlines.py", target)
    elif how == "solution-function-in-a-stub":
        target = copy / "labs" / "lab01_retry.py"
        with open(target, "a", encoding="utf-8") as stub:
            stub.write("\n\n" + _solution_function("lab01_retry", "backoff_delay") + "\n")
    elif how == "hidden-scenario-renamed":
        target = copy / "labs" / "kit" / "examples.py"
        shutil.copyfile(ROOT / "grader" / "scenarios" / "lab02.py", target)
    else:
        target = copy / "notebooks" / "05_reducers.ipynb"
        notebook = nbformat.read(target, as_version=4)
        body = _solution_function("lab05_reducers", "add_messages")
        notebook.cells.append(nbformat.v4.new_code_cell(body))
        nbformat.write(notebook, target)
    found = leaks(copy)
    assert found, f"the planted leak ({how}) was not found"
    assert any(item.startswith(target.relative_to(copy).as_posix() + ":") for item in found)


def test_a_release_that_would_leak_writes_nothing(tmp_path, monkeypatch):
    build = release_module.build

    def leaky(folder: Path) -> None:
        build(folder)
        shutil.copyfile(ROOT / "solutions" / "lab01_retry.py", folder / "labs" / "answer.py")

    monkeypatch.setattr(release_module, "build", leaky)
    out = tmp_path / "bundle"
    with pytest.raises(LeakFound, match="labs/answer.py"):
        release(out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_release_into_a_folder_in_use_is_refused(tmp_path):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "mine.txt").write_text("keep me\n")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        release(out)
    assert _files(out) == {"mine.txt"}


# -- installed as a student would ------------------------------------------------------


@pytest.fixture(scope="module")
def student_python(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the bundle installed as its README says."""
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[lab]'" in readme
    folder = tmp_path_factory.mktemp("student") / ".venv"
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-e", ".[lab]"],
        cwd=bundle, capture_output=True, text=True, env=_clean_env())
    assert done.returncode == 0, f"pip install -e '.[lab]' failed:\n{done.stderr[-4000:]}"
    return python


def _clean_env() -> dict[str, str]:
    """The environment of a student's shell: nothing pointing into this repository."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LAB_IMPL", "VIRTUAL_ENV", "PYTEST_ADDOPTS",
                        "MPLBACKEND", "LAB_REAL_LLM", "OPENAI_BASE_URL", "OPENAI_API_KEY")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_the_installed_bundle_imports_from_the_bundle(bundle, student_python):
    done = subprocess.run(
        [str(student_python), "-c",
         "import labs, labs.kit.fake_llm, importlib.util as u; print(labs.__file__); "
         "print(u.find_spec('solutions') is None and u.find_spec('grader') is None)"],
        cwd=bundle.parent, capture_output=True, text=True, env=_clean_env())
    assert done.returncode == 0, done.stderr
    where, hidden_absent = done.stdout.split()
    assert Path(where).is_relative_to(bundle / "labs")
    assert hidden_absent == "True"


def _run_notebook(python: Path, notebook: Path, script: Path) -> dict[str, Any]:
    done = subprocess.run([str(python), str(script), str(notebook), str(notebook.parent)],
                          cwd=notebook.parent, capture_output=True, text=True, env=_clean_env())
    assert done.returncode == 0, f"{notebook.name}: the runner failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_notebook_runs_against_the_stubs(bundle, student_python, tmp_path):
    script = tmp_path / "run_notebook.py"
    script.write_text(RUN_NOTEBOOK, encoding="utf-8")
    notebooks = sorted((bundle / "notebooks").glob("*.ipynb"))
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        runs = dict(zip(notebooks, pool.map(
            lambda path: _run_notebook(student_python, path, script), notebooks)))
    for notebook, run in runs.items():
        assert run["problem"] is None, f"{notebook.name}:\n{run['problem']}"
        cells = run["cells"]
        stray = [c["source"] for c in cells if c["errors"] and "raises-exception" not in c["tags"]]
        assert stray == [], f"{notebook.name}: errors outside raises-exception cells"
        skipped = [c for c in cells if "skip-execution" not in c["tags"] and not c["ran"]]
        assert skipped == [], f"{notebook.name}: cells that did not run: {skipped[:3]}"
        raised = {name for c in cells for name in c["errors"]}
        assert "NotImplementedError" in raised, \
            f"{notebook.name}: no exercise cell met a stub; was it run against the solutions?"
