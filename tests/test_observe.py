"""What the sandboxed child reports about the submission's values (``grader.observe``)."""

from __future__ import annotations

from grader.observe import type_name


def _instance_of(module: str, name: str) -> object:
    kind = type(name, (Exception,), {"__module__": module})
    return kind()


def test_builtin_types_are_named_bare_and_others_by_module():
    assert type_name(ValueError()) == "ValueError"
    assert type_name(_instance_of("lab01_retry", "RetryError")) == "lab01_retry.RetryError"


def test_a_reference_solution_standing_in_is_named_as_the_student_imports_it():
    # grading lab 03, lab 01's reference stands in for the student's: the student reads the
    # name their code imports, never the hidden solutions' folder
    seen = type_name(_instance_of("solutions.lab01_retry", "RetryError"))
    assert seen == "labs.lab01_retry.RetryError"
