"""Publish the student bundle.

    python -m grader release OUT_DIR

Writes the folder students get: the stub modules and the kit under ``labs/`` (the fake
LLM, the frozen clock, the tools, the public self-checks), the notebooks with their
outputs cleared (their cells on running the grader, which students do not have, replaced
by a note on handing the lab in), a student README and a ``pyproject.toml`` that installs
all of it (and JupyterLab with the ``lab`` extra) in a fresh virtual environment. No reference solution
and no hidden scenario or check goes in, and a leak scan proves it: every line of the
hidden code that appears nowhere in the public code is a fingerprint, and a bundle holding
any of them is refused (:func:`leaks`). The bundle is built beside ``OUT_DIR`` and moved
into place whole; an ``OUT_DIR`` that exists and is not empty is left alone.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat

from grader.checklist import LABS
from grader.notebooks import clear
from grader.sandbox import ROOT

#: What students must never see.
HIDDEN = ("solutions", "grader")
#: The bundle's own README and pyproject, published as they are (no fingerprints).
TEMPLATES = ROOT / "grader" / "bundle"
#: Where the public code lives (its lines are no fingerprint of anything).
PUBLIC = ("labs",)
#: A line shorter than this says too little to be a fingerprint (``return None``).
FINGERPRINT_CHARS = 24
#: The tag of notebook cells about running the grader: left out of the bundle, and a note
#: on handing the lab in (``bundle/hand_in.md``) put in their place.
KIT_ONLY = "kit-only"
TEXT_SUFFIXES = (".py", ".ipynb", ".md", ".toml", ".txt", ".cfg", ".json", ".sh")


class LeakFound(RuntimeError):
    """The bundle holds hidden code; the message says which file and which line."""


def main(argv: Sequence[str]) -> int:
    cli = argparse.ArgumentParser(prog="python -m grader release",
                                  description=__doc__.split("\n\n")[0])
    cli.add_argument("out", type=Path, help="the folder to write the bundle to (new or empty)")
    args = cli.parse_args(argv)
    try:
        count = release(args.out)
    except (LeakFound, FileExistsError) as error:
        print(f"grader release: {error}", file=sys.stderr)
        return 1
    print(f"the student bundle: {count} files in {args.out}, leak scan clean")
    return 0


def release(out: Path) -> int:
    """Build the bundle into ``out``; the number of files in it."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: nothing was written")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as scratch:
        bundle = Path(scratch) / "bundle"
        build(bundle)
        found = leaks(bundle)
        if found:
            raise LeakFound("the bundle holds hidden code, nothing was written: " + found[0])
        if out.exists():
            out.rmdir()
        bundle.rename(out)
    return sum(1 for path in out.rglob("*") if path.is_file())


def build(bundle: Path) -> None:
    """Write the bundle's files into the new folder ``bundle``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "labs", bundle / "labs", ignore=ignore)
    notebooks = bundle / "notebooks"
    notebooks.mkdir()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        clear(notebook)
        _hand_in_instead_of_grading(notebook)
        nbformat.write(notebook, notebooks / path.name)
    shutil.copyfile(TEMPLATES / "pyproject.toml", bundle / "pyproject.toml")
    (bundle / "README.md").write_text(_readme(), encoding="utf-8")


def _hand_in_instead_of_grading(notebook: nbformat.NotebookNode) -> None:
    """Put the hand-in note where the cells tagged :data:`KIT_ONLY` were (how to run the
    grader, which students do not have)."""
    kept: list[nbformat.NotebookNode] = []
    note = (TEMPLATES / "hand_in.md").read_text(encoding="utf-8").strip()
    for cell in notebook.cells:
        if KIT_ONLY not in cell.metadata.get("tags", []):
            kept.append(cell)
        elif note:
            kept.append(nbformat.v4.new_markdown_cell(note, id=cell["id"]))
            note = ""
    notebook.cells = kept


def fingerprints(root: Path = ROOT) -> set[str]:
    """The lines of the hidden code (solutions, grader) found nowhere in the public code,
    stripped, at least :data:`FINGERPRINT_CHARS` long."""
    public = {line for folder in PUBLIC for line in _lines(_files(root / folder))}
    public |= {line for line in _lines(_files(root / "notebooks"))}
    hidden_files = [path for folder in HIDDEN for path in _files(root / folder)
                    if (root / "grader" / "bundle") not in path.parents]
    hidden = set(_lines(hidden_files))
    return {line for line in hidden - public if len(line) >= FINGERPRINT_CHARS}


def leaks(bundle: Path, root: Path = ROOT) -> list[str]:
    """Where the bundle holds a fingerprint of hidden code: ``"<file>: <line>"`` each."""
    marks = fingerprints(root)
    found = []
    for path in _files(bundle):
        for line in _lines([path]):
            if line in marks:
                found.append(f"{path.relative_to(bundle)}: {line[:120]}")
                break
    return found


def _files(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES
                  and "__pycache__" not in p.parts)


def _lines(paths: Iterable[Path]) -> Iterable[str]:
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join("".join(cell.get("source", ""))
                             for cell in nbformat.reads(text, as_version=4).cells)
        for line in text.splitlines():
            stripped = line.strip()
            if stripped:
                yield stripped


def _readme() -> str:
    """The student README: its template, with the table of labs filled in."""
    labs = "\n".join(f"| {lab.id[3:]} {lab.title} | `labs/{lab.module}.py` |" for lab in LABS)
    return (TEMPLATES / "README.md").read_text(encoding="utf-8").replace("{labs}", labs)
