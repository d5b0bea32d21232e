"""The notebooks: executed, reproducible against the solutions, runnable against the stubs.

- strict nbval with ``LAB_IMPL=solutions``: every cell runs and its outputs match the
  committed ones (text exactly; nbval never compares PNG bytes);
- lax nbval with ``LAB_IMPL=labs``: every cell runs; the exercise cells, tagged
  ``raises-exception``, may stop with NotImplementedError;
- the committed notebooks are executed (a notebook without execution counts would pass
  strict nbval without comparing anything);
- ``tools/build_notebooks.py --check``: a fresh build gives the committed file, images aside.

Each notebook needs a kernel, so the runs are queued as subprocesses when the first test
asks for one, run as many at a time as there are cores, and each test waits for its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SANITIZE = NOTEBOOK_DIR / "nbval_sanitize.cfg"
SKIP_TAG = "skip-execution"
#: Seconds one whole run may take before the test gives up on it (none takes a tenth).
RUN_LIMIT = 600


def kernel_env(impl: str) -> dict[str, str]:
    """The environment for a notebook run: the implementation chosen, nothing real."""
    env = dict(os.environ)
    env["LAB_IMPL"] = impl
    for name in ("LAB_REAL_LLM", "MPLBACKEND", "OPENAI_BASE_URL", "OPENAI_API_KEY",
                 "PYTEST_ADDOPTS"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


@dataclass(frozen=True)
class Run:
    """How a finished command ended: its exit status (-1 when it overstayed) and its output."""

    code: int
    output: str


def run(command: list[str], env: dict[str, str]) -> Run:
    try:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired as expired:
        return Run(-1, (expired.output or b"").decode("utf-8", "replace"))
    return Run(done.returncode, done.stdout.decode("utf-8", "replace"))


def nbval(notebook: Path, mode: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", mode,
        "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE), str(notebook),
    ]


@pytest.fixture(scope="module")
def jobs() -> Iterator[dict[tuple[str, str], Future[Run]]]:
    """Every notebook run of this module, ``(kind, notebook name) -> Future``, queued in the
    order the tests ask for them and run as many at a time as there are cores: more at once
    only makes each run slower, and a run slowed enough trips the grader's time limits."""
    commands: dict[tuple[str, str], tuple[list[str], dict[str, str]]] = {}
    for notebook in NOTEBOOKS:
        commands["strict", notebook.name] = (nbval(notebook, "--nbval"), kernel_env("solutions"))
    for notebook in NOTEBOOKS:
        commands["lax", notebook.name] = (nbval(notebook, "--nbval-lax"), kernel_env("labs"))
    for notebook in NOTEBOOKS:
        commands["build", notebook.name] = (
            [sys.executable, str(REPO / "tools" / "build_notebooks.py"), "--check", str(notebook)],
            kernel_env("solutions"))
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {key: pool.submit(run, *command) for key, command in commands.items()}
        yield futures
        for future in futures.values():
            future.cancel()


def code_cells(notebook: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code"]


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebook under {NOTEBOOK_DIR}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_strict_against_the_solutions(jobs, notebook):
    code, output = astuple(jobs["strict", notebook.name].result())
    assert code == 0, f"nbval (strict, LAB_IMPL=solutions) on {notebook.name}:\n{output[-6000:]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_lax_against_the_stubs(jobs, notebook):
    code, output = astuple(jobs["lax", notebook.name].result())
    assert code == 0, f"nbval (lax, LAB_IMPL=labs) on {notebook.name}:\n{output[-6000:]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_rebuild_gives_the_committed_notebook(jobs, notebook):
    code, output = astuple(jobs["build", notebook.name].result())
    assert code == 0, (
        f"tools/build_notebooks.py --check {notebook.name} (rebuild it, then look at the "
        f"diff: a stale output, or something in the notebook that is not deterministic):\n"
        f"{output[-4000:]}"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_executed(notebook):
    cells = code_cells(notebook)
    run = [c for c in cells if SKIP_TAG not in tags(c) and c.source.strip()]
    counts = [c.execution_count for c in run]
    assert counts == list(range(1, len(run) + 1)), (
        f"{notebook.name}: execution counts {counts}; expected 1..{len(run)} in order "
        "(run tools/build_notebooks.py)"
    )
    for cell in cells:
        if SKIP_TAG in tags(cell):
            assert cell.execution_count is None and not cell.outputs, \
                f"{notebook.name}: a {SKIP_TAG} cell holds outputs:\n{cell.source}"
            assert "nbval-skip" in tags(cell), (
                f"{notebook.name}: a {SKIP_TAG} cell without nbval-skip would still run "
                f"under nbval:\n{cell.source}"
            )
    for cell in run:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{notebook.name}: a committed cell ended in an error:\n{cell.source}"
        shows = "print(" in cell.source or cell.source.lstrip().startswith(("selfcheck.", "plots."))
        if shows:
            assert cell.outputs, f"{notebook.name}: a cell that prints has no output:\n{cell.source}"
        for output in cell.outputs:
            if output.output_type == "execute_result":
                assert output.execution_count == cell.execution_count


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_metadata_is_normalised(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert "version" not in nb.metadata.get("language_info", {})
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    for cell in nb.cells:
        assert "execution" not in cell.metadata, f"{notebook.name}: timing metadata kept"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_keeps_a_chosen_implementation(notebook):
    first = code_cells(notebook)[0].source
    assert 'os.environ.setdefault("LAB_IMPL"' in first, (
        f"{notebook.name}: the first code cell should pick the implementation with "
        "os.environ.setdefault, so that LAB_IMPL set outside wins"
    )
