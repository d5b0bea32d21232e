"""``tools/mutation.py`` makes real mutants, and its list of equivalent mutants stays true.

Grading every mutant takes half an hour (``python3 dev.py mutation``), too long for CI; what
CI can check at once is that the mutants are made as documented and that every survivor
written down as equivalent still names a mutant the tool makes: an edit of a solution that
moves or removes the line would otherwise leave an explanation standing for nothing.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from grader.checklist import LABS

ROOT = Path(__file__).resolve().parents[1]


def _load_tool():
    spec = importlib.util.spec_from_file_location("kit_mutation", ROOT / "tools" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


mutation = _load_tool()
#: Every lab's mutants, made once for the whole module (making them all takes seconds).
MUTANTS = {lab.id: mutation.mutants_of(lab) for lab in LABS}


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_mutant_compiles_and_changes_the_student_part(lab):
    mutants = MUTANTS[lab.id]
    assert mutants, f"no mutants made for {lab.id}"
    solution = (ROOT / "solutions" / f"{lab.module}.py").read_text(encoding="utf-8")
    plain = ast.unparse(ast.parse(solution))
    ids = [mutant.id for mutant in mutants]
    assert len(ids) == len(set(ids)), "two mutants share an id"
    for mutant in mutants:
        assert mutant.source != plain, f"{mutant.id} changes nothing"
        compile(mutant.source, f"{lab.module}.py", "exec")


def test_what_the_stub_gives_is_never_mutated():
    ids = [mutant.id for mutant in MUTANTS["lab01"]]
    # RetryPolicy and RetryError are given as they are in the stub.
    assert not [i for i in ids if i.startswith(("RetryPolicy", "RetryError"))]
    assert [i for i in ids if i.startswith("retry_call:")]


def test_every_recorded_equivalent_names_a_mutant_that_exists():
    made = {(lab, mutant.id) for lab, mutants in MUTANTS.items() for mutant in mutants}
    stale = sorted(f"{lab}: {key}" for lab, key in mutation.equivalents() if (lab, key) not in made)
    assert not stale, "tools/mutation_equivalents lists mutants the tool no longer makes:\n" \
        + "\n".join(stale)


def test_every_recorded_equivalent_says_why():
    for (lab, key), why in mutation.equivalents().items():
        assert isinstance(why, str) and len(why.split()) >= 4, f"{lab} {key}: explain why"
