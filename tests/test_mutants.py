"""The grader catches typical mistakes: every mutant in ``tests/mutants.py`` is graded as a
submission and must leave its own checklist item not done."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from grader.checklist import LABS_BY_ID
from tests.conftest import grade_json, items_of
from tests.mutants import MUTANTS, Mutant, StaleMutant, materialise

#: Each grading is a grader process plus its sandboxed child; these machines have 2 cores.
WORKERS = 2


@pytest.fixture(scope="module")
def graded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[Mutant, dict[str, dict[str, Any]]]:
    """``{mutant: {item id: item}}``: every mutant this session's tests ask for, graded once
    each in its own folder, two at a time."""

    def grade(mutant: Mutant) -> dict[str, dict[str, Any]]:
        folder = tmp_path_factory.mktemp(f"{mutant.lab}-{mutant.name}")
        materialise(mutant, folder)
        return items_of(grade_json(folder, mutant.lab), mutant.lab)

    wanted = list(dict.fromkeys(
        item.callspec.params["mutant"]
        for item in request.session.items
        if getattr(item, "module", None) is sys.modules[__name__]
        and "graded" in getattr(item, "fixturenames", ())
        and "mutant" in getattr(getattr(item, "callspec", None), "params", {})
    ))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(wanted, pool.map(grade, wanted)))


def _ids(mutant: Mutant) -> str:
    return f"{mutant.lab}-{mutant.name}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=_ids)
def test_mutant_is_caught_on_its_item(graded, mutant):
    items = graded[mutant]
    verdict = items[mutant.item]
    missed = [item_id for item_id, item in items.items() if not item["done"]]
    print(f"{mutant.name}: not done {', '.join(missed) or 'none'}; "
          f"{mutant.item}: {verdict['detail']}")
    assert not verdict["done"], f"{mutant.name} survived on {mutant.item} ({mutant.why})"
    assert isinstance(verdict["detail"], str) and verdict["detail"].strip()
    assert verdict["hint"]
    # A small mistake, not a broken module: the rest of the lab still grades.
    assert len(missed) < len(items), f"{mutant.name} fails every item: {verdict['detail']}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=_ids)
def test_mutant_is_a_real_change_that_compiles(mutant):
    source = mutant.source()
    assert source != mutant.solution.read_text(encoding="utf-8")
    compile(source, f"{mutant.module}.py", "exec")


def test_an_edit_that_no_longer_applies_is_an_error(tmp_path):
    stale = Mutant("lab01", "stale", "lab01.retries-transient", "gone", (("no such text", ""),))
    with pytest.raises(StaleMutant, match="found it 0 times"):
        materialise(stale, tmp_path)
    ambiguous = Mutant("lab01", "ambiguous", "lab01.retries-transient", "twice", (("policy", ""),))
    with pytest.raises(StaleMutant, match="exactly once"):
        ambiguous.source()


def test_mutant_names_are_unique_and_kebab_case():
    names = [(m.lab, m.name) for m in MUTANTS]
    assert len(names) == len(set(names))
    for mutant in MUTANTS:
        assert mutant.name == mutant.name.lower() and " " not in mutant.name
        assert "_" not in mutant.name and mutant.why


@pytest.mark.parametrize("lab", sorted({m.lab for m in MUTANTS}))
def test_every_item_has_a_mutant(lab):
    covered = {m.item for m in MUTANTS if m.lab == lab}
    assert set(LABS_BY_ID[lab].item_ids) - covered == set()
    assert covered <= set(LABS_BY_ID[lab].item_ids), "a mutant names an unknown item"


#: Mutants whose mistake shows only when threads race: each must be caught every time.
RACERS = [m for m in MUTANTS if m.item == "lab02.concurrent-once"]


@pytest.mark.parametrize("mutant", RACERS, ids=_ids)
def test_a_race_is_caught_the_same_way_every_time(graded, mutant, tmp_path):
    materialise(mutant, tmp_path)
    again = [items_of(grade_json(tmp_path, mutant.lab), mutant.lab) for _ in range(2)]
    assert again == [graded[mutant]] * 2
