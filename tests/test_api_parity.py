"""The stub and the solution of every lab expose the same names with the same signatures,
so a notebook or a check written against one works against the other."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

from grader.checklist import LABS, Lab
from tests.conftest import REPO

BOTH = [lab for lab in LABS if (REPO / "solutions" / f"{lab.module}.py").exists()]


def public_api(module: ModuleType) -> dict[str, str]:
    """Every public function, class (with its public methods) and constant the module
    itself defines, mapped to its signature or value."""
    api: dict[str, str] = {}
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            api[name] = str(inspect.signature(value))
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            api[name] = "class"
            for attr, member in vars(value).items():
                if callable(member) and (not attr.startswith("_") or attr == "__init__"):
                    api[f"{name}.{attr}"] = str(inspect.signature(member))
                elif isinstance(member, property):
                    api[f"{name}.{attr}"] = "property"
            fields = getattr(value, "__dataclass_fields__", None)
            if fields:
                api[f"{name}.<fields>"] = repr([(f, str(fields[f].type)) for f in fields])
        elif name.isupper():
            api[name] = repr(value)
    return api


@pytest.mark.parametrize("lab", BOTH, ids=lambda lab: lab.id)
def test_stub_and_solution_expose_the_same_api(lab: Lab):
    stub = importlib.import_module(f"labs.{lab.module}")
    solution = importlib.import_module(f"solutions.{lab.module}")
    assert public_api(stub) == public_api(solution)


def test_every_built_lab_has_both_a_stub_and_a_solution():
    from grader.run import is_built

    for lab in LABS:
        if is_built(lab):
            assert lab in BOTH
            assert (REPO / "labs" / f"{lab.module}.py").exists()
