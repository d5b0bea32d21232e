"""No false fails on independent work: second implementations get every item done.

``tests/alternatives/`` holds a second complete implementation of labs, each written from the
stub and the notebook alone, by someone who had not read ``solutions/``, in a deliberately
different style (tenacity-like composed parts for lab 01, a transition table and a
length-prefixed key for lab 02, guards and attempt records for lab 03). A check that fails
one of them demands something the contract does not say.
"""

from __future__ import annotations

import pytest

from grader.checklist import LABS_BY_ID
from tests.conftest import REPO, grade_json, items_of

ALTERNATIVES = REPO / "tests" / "alternatives"
#: The labs that have an independent implementation here.
LABS = ("lab01", "lab02", "lab03")


@pytest.fixture(scope="module")
def report():
    return grade_json(ALTERNATIVES, *LABS)


@pytest.mark.parametrize("lab", LABS)
def test_every_item_is_done(report, lab):
    items = items_of(report, lab)
    assert set(items) == set(LABS_BY_ID[lab].item_ids)
    not_done = {item_id: item["detail"] for item_id, item in items.items() if not item["done"]}
    assert not not_done, f"{lab}'s independent implementation fails: {not_done}"


@pytest.mark.parametrize("lab", LABS)
def test_it_is_a_real_implementation(lab):
    module = ALTERNATIVES / f"{LABS_BY_ID[lab].module}.py"
    text = module.read_text(encoding="utf-8")
    solution = (REPO / "solutions" / module.name).read_text(encoding="utf-8")
    assert "NotImplementedError" not in text and text != solution
