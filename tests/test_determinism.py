"""The same submission gets the same report, byte for byte (``tools/determinism.py``).

CI grades the mixed submission (a mutant of every lab) three times; the command does it 20
times (README, "How we know the grader is right"). The comparison itself is shown to fail
when two reports differ.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from tests.conftest import REPO

_SPEC = importlib.util.spec_from_file_location("determinism", REPO / "tools" / "determinism.py")
assert _SPEC is not None and _SPEC.loader is not None
determinism = importlib.util.module_from_spec(_SPEC)
sys.modules["determinism"] = determinism
_SPEC.loader.exec_module(determinism)


def test_the_mixed_submission_gets_identical_reports(tmp_path):
    determinism.write_mixed(tmp_path)
    reports, summary = determinism.check(tmp_path, runs=3, workers=2)
    assert len(set(reports)) == 1, summary
    report = json.loads(reports[0])
    assert report["impl"] == "submission"
    for lab in report["labs"]:
        assert 0 < lab["score"] < lab["max_score"], (lab["lab"], summary)
    assert "/tmp" not in reports[0] and str(tmp_path) not in reports[0]


def test_a_difference_is_reported(monkeypatch, tmp_path):
    outputs = iter(['{"labs": []}\n', '{"labs": []}\n', '{"labs": [], "x": 1}\n'])
    monkeypatch.setattr(determinism, "grade", lambda impl: next(outputs))
    reports, summary = determinism.check(Path(tmp_path), runs=3, workers=1)
    assert "3 gradings, 2 distinct report(s)" in summary
    assert '+{"labs": [], "x": 1}' in summary
