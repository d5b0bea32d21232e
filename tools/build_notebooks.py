#!/usr/bin/env python3
"""Re-execute the notebooks against the reference solutions and store their outputs.

    .venv/bin/python tools/build_notebooks.py                 every notebooks/*.ipynb
    .venv/bin/python tools/build_notebooks.py notebooks/01_retry.ipynb
    .venv/bin/python tools/build_notebooks.py --check         exit 1 if a notebook is stale

For each notebook: clear every output and execution count, execute it top to bottom in a
fresh kernel (nbclient, ``LAB_IMPL=solutions``, ``record_timing=False``), number the
executed cells 1..N, merge split stream outputs, normalise the metadata (kernelspec
``python3``, no volatile keys), and write it back atomically. Building twice gives
byte-identical files, so ``pytest --nbval`` against the solutions is a real check and a
rebuild shows up in ``git diff`` only when an output really changed.

``--check`` builds in memory and compares with the file, images aside (their bytes depend on
the machine's fonts; nbval does not compare them either): it fails when a notebook's outputs
are stale or the build is not deterministic.

Cells tagged ``skip-execution`` are not run and keep no output (give them the
``nbval-skip`` tag too: nbval does not know ``skip-execution``). Against the solutions
every executed cell must run without an error, ``raises-exception`` cells included: a
notebook that wants to show an exception catches it and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from grader.files import write_atomically
from grader.notebooks import (
    KERNEL,
    KERNELSPEC,
    LANGUAGE_INFO_KEYS,
    VOLATILE_CELL_METADATA,
    clear,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SKIP_TAG = "skip-execution"
CELL_TIMEOUT = 300  # seconds; every wait in a notebook is on the frozen clock
IMAGE_TYPES = ("image/png", "image/jpeg")


def kernel_environment() -> dict[str, str]:
    """The environment the kernel runs in: the solutions, the fake LLM, the inline backend."""
    env = dict(os.environ)
    env["LAB_IMPL"] = "solutions"
    for name in ("LAB_REAL_LLM", "MPLBACKEND", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def warm_up() -> None:
    """Build matplotlib's font cache here, so its one-time notice never lands in a cell."""
    import matplotlib.font_manager  # noqa: F401


def normalise(nb: nbformat.NotebookNode) -> None:
    """After execution: counts 1..N, merged streams, machine-independent metadata."""
    info = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = nbformat.from_dict(
        {key: info[key] for key in LANGUAGE_INFO_KEYS if key in info}
    )
    nb.metadata["kernelspec"] = nbformat.from_dict(KERNELSPEC)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if SKIP_TAG in cell.metadata.get("tags", []) or not cell.source.strip():
            cell.execution_count = None
            cell.outputs = []
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = merge_streams(cell.outputs)
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count


def merge_streams(outputs: list[Any]) -> list[Any]:
    """Join consecutive stream outputs of the same name: how the kernel happened to flush
    them must not show in the file."""
    merged: list[Any] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def build(path: Path) -> str:
    """The built notebook's text for ``path``."""
    nb = nbformat.read(path, as_version=4)
    clear(nb)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        skip_cells_with_tag=SKIP_TAG,
        force_raise_errors=True,
    )
    client.execute(env=kernel_environment())
    normalise(nb)
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def comparable(text: str) -> Any:
    """A notebook's JSON with binary images replaced by a marker.

    PNG and JPEG bytes depend on the machine's font rendering and library versions (nbval
    does not compare them either), so ``--check`` compares every other byte of meaning:
    sources, text outputs, counts, ids and metadata, and where an image is.
    """
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for kind in IMAGE_TYPES:
                if kind in data:
                    data[kind] = "<image>"
    return nb


def first_difference(old: Any, new: Any) -> str:
    """Where two comparable notebooks first differ, for a person to look at."""
    if old.get("metadata") != new.get("metadata"):
        return "notebook metadata"
    for index, (a, b) in enumerate(zip(old.get("cells", []), new.get("cells", []))):
        if a != b:
            fields = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            return f"cell {index} ({', '.join(fields)})"
    return "number of cells"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to build (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true",
                        help="build in memory; exit 1 if a notebook is stale (images aside)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print("build_notebooks: no notebook to build", file=sys.stderr)
        return 2
    warm_up()
    stale = 0
    for path in paths:
        started = time.perf_counter()
        try:
            text = build(path)
        except CellExecutionError as error:
            print(f"build_notebooks: {path.name}: a cell failed against the solutions\n{error}",
                  file=sys.stderr)
            return 1
        current = path.read_text(encoding="utf-8")
        took = f"{time.perf_counter() - started:.1f} s"
        if args.check:
            old, new = comparable(current), comparable(text)
            if old != new:
                stale += 1
                print(f"stale  {_shown(path)}: {first_difference(old, new)} would change  ({took})")
            else:
                print(f"up to date  {_shown(path)}  ({took})")
        else:
            changed = current != text
            if changed:
                write_atomically(path, text)
            print(f"{'built' if changed else 'unchanged'}  {_shown(path)}  ({took})")
    return 1 if stale else 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
