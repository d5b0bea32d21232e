"""Notebooks as the kit keeps them: cleared of outputs, with stable metadata.

:func:`clear` is what both the notebook build (``tools/build_notebooks.py``, which then
executes the notebook) and the student bundle (:mod:`grader.release`, which ships it
cleared) start from, so that a notebook's file depends on its cells and nothing else.
"""

from __future__ import annotations

import nbformat

KERNEL = "python3"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}
#: language_info keys that do not depend on the machine (its "version" does).
LANGUAGE_INFO_KEYS = ("codemirror_mode", "file_extension", "mimetype", "name",
                      "nbconvert_exporter", "pygments_lexer")
#: Notebook-level metadata worth keeping; everything else (widgets, front-end state) goes.
NOTEBOOK_METADATA_KEYS = ("kernelspec", "language_info")
#: Cell metadata front ends add and a build should not keep.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter",
                          "trusted", "vscode", "pycharm")


def clear(nb: nbformat.NotebookNode) -> None:
    """Drop outputs, execution counts and volatile metadata; give every cell a stable id."""
    nb.metadata = nbformat.from_dict(
        {key: nb.metadata[key] for key in NOTEBOOK_METADATA_KEYS if key in nb.metadata}
    )
    nb.metadata["kernelspec"] = nbformat.from_dict(KERNELSPEC)
    nb.nbformat, nb.nbformat_minor = 4, 5
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not cell_id or cell_id in used:
            cell_id = f"cell-{index:03d}"
        cell["id"] = cell_id
        used.add(cell_id)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
