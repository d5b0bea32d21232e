"""A grade report in the formats instructors and platforms read (besides text and JSON).

- :func:`to_markdown`: feedback a student reads: each lab's verdict, then each item done
  or not, with what was seen and the hint under every item not done.
- :func:`to_gradescope`: Gradescope's ``results.json`` (its autograder specification):
  one test per checklist item, ``status`` passed or failed, ``score`` and ``max_score``,
  the hint and what was seen as ``output``. :func:`gradescope_failure` is the file to
  write when grading itself failed, so that Gradescope always gets an answer.
- :func:`to_junit`: JUnit XML, one ``testsuite`` per lab and one ``testcase`` per item,
  a ``failure`` for every item not done; CI tools show it as test results.

Every renderer depends only on the report, so the same report gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from grader.report import Report


def to_markdown(report: Report) -> str:
    """The checklist as Markdown feedback."""
    lines = [f"# Grading report: {report.impl}", ""]
    graded = [lab for lab in report.labs if lab.status == "graded"]
    if graded:
        done = sum(lab.score for lab in graded)
        total = sum(lab.max_score for lab in graded)
        passed = sum(lab.passed for lab in graded)
        lines += [f"**{done} of {total} items done; {passed} of {len(graded)} labs passed.**",
                  ""]
    for lab in report.labs:
        lines += [f"## {lab.lab} · {lab.title} (`{lab.module}`)", ""]
        if lab.status != "graded":
            lines += [f"_{lab.status.capitalize()} yet in this kit._", ""]
            continue
        verdict = "passed (Сдано)" if lab.passed else "not passed (Не сдано)"
        lines += [f"{lab.score}/{lab.max_score} done: **{verdict}**", ""]
        for item in lab.items:
            lines.append(f"- {'✅' if item.done else '❌'} **{item.title}** `{item.id}`")
            if not item.done:
                if item.detail:
                    lines.append(f"  - Seen: {_one_line(item.detail)}")
                lines.append(f"  - Hint: {_one_line(item.hint or '')}")
        lines.append("")
    not_isolated = {k: v for k, v in sorted(report.sandbox.items()) if v != "isolated"}
    for aspect, why in not_isolated.items():
        lines.append(f"> Sandbox: {aspect} was not isolated ({_one_line(str(why))}).")
    return "\n".join(lines).rstrip("\n") + "\n"


def to_gradescope(report: Report) -> str:
    """Gradescope's ``results.json``: a point per checklist item of every graded lab."""
    tests: list[dict[str, Any]] = []
    for lab in report.labs:
        if lab.status != "graded":
            continue
        for item in lab.items:
            tests.append({
                "name": f"{item.id}: {item.title}",
                "number": item.id,
                "score": 1 if item.done else 0,
                "max_score": 1,
                "status": "passed" if item.done else "failed",
                "output": "" if item.done else _feedback(item.detail, item.hint),
                "visibility": "visible",
            })
    results = {
        "score": sum(test["score"] for test in tests),
        "output": _summary(report),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def gradescope_failure(reason: str) -> str:
    """A ``results.json`` for a submission the grader could not grade at all."""
    results = {
        "score": 0,
        "output": f"The submission could not be graded: {reason}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_junit(report: Report) -> str:
    """JUnit XML: a test suite per graded lab, a test case per item."""
    suites = ElementTree.Element("testsuites", name=f"grading {report.impl}")
    for lab in report.labs:
        if lab.status != "graded":
            continue
        suite = ElementTree.SubElement(suites, "testsuite", name=f"{lab.lab} {lab.title}",
                                       tests=str(lab.max_score),
                                       failures=str(lab.max_score - lab.score), errors="0",
                                       skipped="0")
        for item in lab.items:
            case = ElementTree.SubElement(suite, "testcase", classname=lab.lab,
                                          name=item.id.split(".", 1)[1])
            if not item.done:
                failure = ElementTree.SubElement(case, "failure",
                                                 message=_one_line(item.detail)[:500])
                failure.text = _feedback(item.detail, item.hint)
    suites.set("tests", str(sum(int(s.get("tests", "0")) for s in suites)))
    suites.set("failures", str(sum(int(s.get("failures", "0")) for s in suites)))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _summary(report: Report) -> str:
    lines = []
    for lab in report.labs:
        if lab.status == "graded":
            lines.append(f"{lab.lab} {lab.title}: {lab.score}/{lab.max_score} done"
                         f"{', passed' if lab.passed else ''}")
    return "\n".join(lines)


def _feedback(detail: str, hint: str | None) -> str:
    parts = [f"Seen: {detail}" if detail else "", f"Hint: {hint}" if hint else ""]
    return "\n\n".join(part for part in parts if part)


def _one_line(text: str) -> str:
    return " ".join(text.split())
