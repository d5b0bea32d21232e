"""The report's formats for instructors and platforms: Markdown feedback, Gradescope's
results.json, JUnit XML; and the grader's files: atomic writes, safe zips."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from xml.etree import ElementTree

import pytest

from grader.batch import _report_of
from grader.checklist import MODULE_FILES
from grader.files import BadSubmission, extract_zip, gather_modules, write_atomically
from grader.formats import gradescope_failure, to_gradescope, to_junit, to_markdown
from tests.conftest import REPO, grade_json


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """lab01 done (the reference), lab02 not (the stub): a report with both kinds of item."""
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "lab01_retry.py").write_text((REPO / "solutions" / "lab01_retry.py").read_text())
    (folder / "lab02_idempotency.py").write_text(
        (REPO / "labs" / "lab02_idempotency.py").read_text())
    return _report_of(grade_json(folder, "lab01", "lab02"))


def test_markdown_feedback(mixed):
    text = to_markdown(mixed)
    assert "**8 of 16 items done; 1 of 2 labs passed.**" in text
    assert "8/8 done: **passed (Сдано)**" in text and "0/8 done: **not passed (Не сдано)**" in text
    assert text.count("- ✅ ") == 8 and text.count("- ❌ ") == 8
    assert text.count("  - Hint: Symptom:") == 8
    assert "  - Seen: not implemented: create_task" in text


def test_gradescope_results_follow_the_specification(mixed):
    results = json.loads(to_gradescope(mixed))
    assert results["score"] == 8 and len(results["tests"]) == 16
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output"}
        assert test["max_score"] == 1 and test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") == (test["score"] == 1)
        assert (test["output"] == "") == (test["status"] == "passed")
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert all(t["output"].startswith("Seen: not implemented") and "Hint: Symptom:" in t["output"]
               for t in failed)
    assert "lab01 Retry with exponential backoff: 8/8 done, passed" in results["output"]


def test_gradescope_failure_is_still_a_results_file():
    results = json.loads(gradescope_failure("no lab module was found"))
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"] == "The submission could not be graded: no lab module was found"


def test_junit_parses_as_test_results(mixed):
    root = ElementTree.fromstring(to_junit(mixed).encode())
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures")) == ("16", "8")
    suites = root.findall("testsuite")
    assert [(s.get("tests"), s.get("failures")) for s in suites] == [("8", "0"), ("8", "8")]
    cases = suites[1].findall("testcase")
    assert cases[0].get("classname") == "lab02" and cases[0].get("name") == "task-lifecycle"
    assert cases[0].find("failure").get("message") == "not implemented: create_task"


def test_every_format_from_the_command_line():
    for name, check in (("markdown", lambda out: out.startswith("# Grading report: labs")),
                        ("gradescope", lambda out: json.loads(out)["tests"]),
                        ("junit", lambda out: ElementTree.fromstring(out.encode()))):
        done = _cli("labs", "lab01", "--format", name)
        assert done.returncode == 1 and check(done.stdout), (name, done.stderr[-500:])


def _cli(impl, lab, *options):
    return subprocess.run([sys.executable, "-m", "grader", "--impl", impl, "--lab", lab,
                           *options], cwd=REPO, capture_output=True, text=True)


# -- files ----------------------------------------------------------------------------------


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    write_atomically(target, "old\n")
    os.chmod(target, 0o640)

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["grades.csv"]
    write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def test_zip_with_one_top_folder_unpacks_to_it(tmp_path):
    archive = _zip(tmp_path / "alice.zip", {"alice/lab01_retry.py": "x = 1\n"})
    folder = extract_zip(archive, tmp_path / "out")
    assert folder == tmp_path / "out" / "alice" and (folder / "lab01_retry.py").exists()
    flat = _zip(tmp_path / "bob.zip", {"lab01_retry.py": "x", "lab02_idempotency.py": "y"})
    assert extract_zip(flat, tmp_path / "flat") == tmp_path / "flat"


@pytest.mark.parametrize("members, message", [
    ({"../../escape.py": "x"}, "evil.zip tries to write outside its folder: ../../escape.py"),
    ({"/etc/passwd": "x"}, "evil.zip tries to write outside its folder: /etc/passwd"),
    ({"a/../../b.py": "x"}, "evil.zip tries to write outside its folder: a/../../b.py"),
    ({}, "evil.zip is empty"),
])
def test_bad_zips_are_refused_before_anything_is_written(tmp_path, members, message):
    archive = _zip(tmp_path / "evil.zip", members)
    with pytest.raises(BadSubmission) as refused:
        extract_zip(archive, tmp_path / "out")
    assert str(refused.value) == message
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "escape.py").exists()


def test_a_link_in_a_zip_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("lab01_retry.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(info, "/etc/passwd")
    with pytest.raises(BadSubmission, match="link.zip holds a link: lab01_retry.py"):
        extract_zip(archive, tmp_path / "out")


def test_not_a_zip_and_a_zip_bomb(tmp_path, monkeypatch):
    fake = tmp_path / "carol.zip"
    fake.write_text("just text")
    with pytest.raises(BadSubmission, match="carol.zip is not a zip file"):
        extract_zip(fake, tmp_path / "out")
    monkeypatch.setattr("grader.files.MAX_UNPACKED_BYTES", 1000)
    bomb = _zip(tmp_path / "bomb.zip", {"lab01_retry.py": "0" * 2000})
    with pytest.raises(BadSubmission, match="bomb.zip unpacks to more than"):
        extract_zip(bomb, tmp_path / "bomb")


def test_lab_modules_are_gathered_from_anywhere_in_a_submission(tmp_path):
    submission, into = tmp_path / "alice", tmp_path / "into"
    (submission / "old" / "labs").mkdir(parents=True)
    (submission / "labs").mkdir()
    into.mkdir()
    (submission / "labs" / "lab01_retry.py").write_text("# the one handed in\n")
    (submission / "old" / "labs" / "lab01_retry.py").write_text("# an old draft, deeper\n")
    (submission / "lab02_idempotency.py").write_text("# lab 02\n")
    (submission / "notes.py").write_text("# not a lab module\n")
    outside = tmp_path / "secret.py"
    outside.write_text("# outside the submission\n")
    (submission / "lab03_deadlines.py").symlink_to(outside)
    found = gather_modules(submission, MODULE_FILES, into)
    assert sorted(found) == ["lab01_retry.py", "lab02_idempotency.py"]
    assert sorted(p.name for p in into.iterdir()) == ["lab01_retry.py", "lab02_idempotency.py"]
    assert (into / "lab01_retry.py").read_text() == "# the one handed in\n"


def test_a_submission_without_lab_modules_is_refused(tmp_path):
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "answers.txt").write_text("on paper\n")
    with pytest.raises(BadSubmission, match="no lab module was found"):
        gather_modules(tmp_path / "bob", MODULE_FILES, tmp_path)
