"""Hostile submissions are contained (SPEC, "The grader": Robust).

Each case in :mod:`tests.hostile` is the lab 01 stub plus one attack, graded with the real
command line as a student would run it. Every case must end with:

* the grader answering: JSON on stdout and exit status 1, not a crash and not a hang;
* every lab 01 item not done, each with a reason that names what happened;
* nothing left running (no process whose command line carries the case's token);
* nothing written outside the sandbox (no file carrying the token in the home directory,
  in the grader's package or beside pytest), and no connection reaching this machine.

What the sandbox could fence in depends on the machine (namespaces need Linux, and user
namespaces when not root); where a case relies on a fence the report says is missing, the
test says so instead of pretending. The cases are graded two at a time in the background
from the start of the module, slowest first; each test waits for its own. The last test
grades the reference solutions again: the hostile ones harmed nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.checklist import LABS_BY_ID
from grader.sandbox import ROOT, LabRun, SandboxConfig, run_lab
from tests.conftest import grade_json, items_of
from tests.hostile import CASES, CASES_BY_NAME, Hostile, write

LAB = LABS_BY_ID["lab01"]
HOME = Path.home()
#: Where a conftest.py would be picked up by every pytest run of this environment.
SITE_PACKAGES = Path(pytest.__file__).resolve().parent.parent
#: The cases that wait out time limits, graded first so the rest fill in beside them.
SLOWEST = (
    "blocks_on_an_event",
    "sleeps_for_real",
    "loops_at_import",
    "floods_output_forever",
    "exits_in_its_functions",
)
#: A grading that takes longer than this is a hung grader, not a slow one.
HANG_GUARD = 240.0
#: Cases that really write where they aim when the file system is not read-only.
WRITERS = ("writes_into_the_grader", "writes_into_home", "climbs_out_with_mount")
#: What the stub says for each of its scenarios: the first of its functions a scenario calls.
STUB_REASONS = frozenset(f"not implemented: {name}" for name in (
    "RetryingLLM.__init__", "retry_call", "is_transient", "backoff_delay", "server_delay"))
#: What the flooding cases print (the cases' own names hold the word once).
FLOOD = "flood flood"


# -- grading the cases ------------------------------------------------------------------


@dataclass
class Graded:
    """One hostile case, graded: what the command line said, and the report it printed."""

    case: Hostile
    token: str
    listener: socket.socket
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return items_of(self.report, "lab01")

    @property
    def sandbox(self) -> dict[str, str]:
        return self.report.get("sandbox", {})

    def isolated(self, aspect: str) -> bool:
        return self.sandbox.get(aspect) == "isolated"


class Cases:
    """Grades the selected cases in the background and hands each test its own."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder = folder
        self.reference = grade_json("solutions", "lab01")  # also tells what can be fenced
        #: item id -> what the stub alone is told: a case that did no harm is told the same
        self.stub = {item_id: item["detail"]
                     for item_id, item in items_of(grade_json("labs", "lab01"), "lab01").items()}
        self.tokens: dict[str, str] = {}
        self.listeners: dict[str, socket.socket] = {}
        self.skipped: dict[str, str] = {}
        filesystem = self.reference["sandbox"].get("filesystem")
        for name in WRITERS:
            if filesystem != "isolated":  # the write would land in the real files
                self.skipped[name] = f"the file system is not read-only here ({filesystem})"
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hostile")
        order = [n for n in SLOWEST if n in names] + [n for n in names if n not in SLOWEST]
        self.futures: dict[str, Future[Graded]] = {
            name: self.pool.submit(self._grade, CASES_BY_NAME[name])
            for name in order
            if name not in self.skipped
        }

    def graded(self, name: str) -> Graded:
        if name in self.skipped:
            pytest.skip(self.skipped[name])
        return self.futures[name].result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for listener in self.listeners.values():
            listener.close()
        for token in self.tokens.values():
            _kill_processes_with(token)
            _scrub(token)

    def _grade(self, case: Hostile) -> Graded:
        token = str(10**8 + secrets.randbelow(9 * 10**8))
        listener = socket.create_server(("0.0.0.0", 0))
        listener.setblocking(False)
        self.tokens[case.name], self.listeners[case.name] = token, listener
        values: dict[str, object] = {
            "token": token,
            "home": HOME,
            "host_ip": _host_address(),
            "port": listener.getsockname()[1],
        }
        if case.name == "knows_the_expected_observations":
            values["observations"] = repr(json.dumps(_reference_observations()))
        folder = self.folder / case.name
        write(case, folder, **values)
        started = time.monotonic()
        done = _grade(folder, case.timeout)
        graded = Graded(
            case, token, listener, done.returncode, done.stdout, done.stderr,
            time.monotonic() - started,
        )
        try:
            graded.report = json.loads(done.stdout)
        except ValueError:
            pass  # reported by assert_contained, with the grader's stderr
        return graded


def _grade(folder: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m grader --impl FOLDER --lab lab01 --format json`` (as ``tests.conftest``'s
    ``run_grader``), with a guard so that a hung grader fails the test instead of the run."""
    command = [sys.executable, "-m", "grader", "--impl", str(folder), "--lab", "lab01"]
    command += ["--format", "json", "--scenario-timeout", str(timeout)]
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD)
    except subprocess.TimeoutExpired as expired:
        return subprocess.CompletedProcess(command, -1, "", f"the grader hung: {expired}")


def _selected(session: pytest.Session) -> list[str]:
    """The cases whose ``test_<case>`` this session runs, in the order of :data:`CASES`."""
    here = {
        item.originalname
        for item in session.items
        if getattr(item, "module", None) is sys.modules[__name__]
    }
    return [case.name for case in CASES if f"test_{case.name}" in here]


@pytest.fixture(scope="module")
def cases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    graded = Cases(tmp_path_factory.mktemp("hostile"), _selected(request.session))
    yield graded
    graded.close()


def _host_address() -> str:
    """This machine's address on its main interface (no packet is sent), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _reference_observations() -> dict[str, Any]:
    run: LabRun = run_lab(LAB, ROOT / "solutions", SandboxConfig(scenario_timeout=30))
    assert run.failure is None and all(r.status == "ok" for r in run.results.values()), run
    return {name: result.observation for name, result in run.results.items()}


# -- what every case must leave behind: nothing ----------------------------------------


def _processes_with(token: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in command:
                shown = command.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry}: {shown}")
    return found


def _kill_processes_with(token: str) -> None:
    for found in _processes_with(token):
        try:
            os.kill(int(found.split(":")[0]), signal.SIGKILL)
        except OSError:
            pass


def _traces(token: str) -> list[Path]:
    """Files outside the sandbox that carry ``token`` in their name or their text."""
    found = [path for path in HOME.iterdir() if token in path.name]
    for path in [*(ROOT / "grader").rglob("*.py"), SITE_PACKAGES / "conftest.py"]:
        if token in path.name:
            found.append(path)
        elif path.is_file():
            try:
                if token in path.read_text(encoding="utf-8", errors="replace"):
                    found.append(path)
            except OSError:
                continue
    return found


def _scrub(token: str) -> None:
    """Undo what an uncontained case wrote: its new files, and its lines in old ones."""
    for path in _traces(token):
        if token in path.name or path.name == "conftest.py" and path.parent == SITE_PACKAGES:
            path.unlink(missing_ok=True)
        else:
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(rf"\n# forged {token}\n", "", text), encoding="utf-8")


def _connections(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            accepted, _ = listener.accept()
        except BlockingIOError:
            return count
        accepted.close()
        count += 1


def assert_contained(graded: Graded) -> None:
    """The common part: the grader answered, nothing is done, nothing got out."""
    assert graded.returncode == 1, f"grader exit {graded.returncode}:\n{graded.stderr[-3000:]}"
    assert graded.report, f"no JSON report:\n{graded.stdout[-500:]}\n{graded.stderr[-3000:]}"
    assert "Traceback" not in graded.stderr, graded.stderr[-3000:]
    (lab,) = [entry for entry in graded.report["labs"] if entry["lab"] == "lab01"]
    assert lab["status"] == "graded" and lab["passed"] is False and lab["score"] == 0
    assert list(graded.items) == list(LAB.item_ids)
    for item in graded.items.values():
        assert item["done"] is False, item
        assert item["detail"].strip() and item["hint"], item
    assert _processes_with(graded.token) == [], "a process outlived the grading"
    traces = _traces(graded.token)
    _scrub(graded.token)
    assert traces == [], "written outside the sandbox"
    assert _connections(graded.listener) == 0, "a connection reached this machine"


def details(graded: Graded) -> dict[str, str]:
    return {item_id: item["detail"] for item_id, item in graded.items.items()}


def assert_every_detail(graded: Graded, *words: str) -> None:
    for item_id, detail in details(graded).items():
        for word in words:
            assert word in detail, f"{item_id}: {word!r} not in {detail!r}"


# -- the reference solutions, before -----------------------------------------------------


def test_reference_solutions_do_every_item_before(cases):
    items = items_of(cases.reference, "lab01")
    assert [item["done"] for item in items.values()] == [True] * len(LAB.items)


# -- does not import ----------------------------------------------------------------------


def test_fails_to_import(cases):
    graded = cases.graded("fails_to_import")
    assert_contained(graded)
    assert_every_detail(
        graded,
        "lab01_retry.py failed to import: ModuleNotFoundError",
        "retry_helpers_nobody_installed",
    )


def test_does_not_parse(cases):
    graded = cases.graded("does_not_parse")
    assert_contained(graded)
    assert_every_detail(graded, "lab01_retry.py does not parse", "(line ")


# -- never ends -----------------------------------------------------------------------------


def test_loops_at_import(cases):
    graded = cases.graded("loops_at_import")
    assert_contained(graded)
    limit = SandboxConfig.import_timeout
    assert_every_detail(graded, f"did not finish within {limit:g} s", "while it was being imported")


def test_blocks_on_an_event(cases):
    graded = cases.graded("blocks_on_an_event")
    assert_contained(graded)
    # Every scenario timed out on its own, each in a fresh child: one item, one reason.
    assert set(details(graded).values()) == {
        "the submission did not finish within 1 s (stuck in a loop, blocked, or really sleeping?)"
    }


def test_sleeps_for_real(cases):
    graded = cases.graded("sleeps_for_real")
    assert_contained(graded)
    assert_every_detail(graded, "the submission did not finish within 1 s")


# -- leaves the interpreter -------------------------------------------------------------------


def test_exits_in_its_functions(cases):
    graded = cases.graded("exits_in_its_functions")
    assert_contained(graded)
    assert set(details(graded).values()) == {
        "the submission made the process exit with status 0 (os._exit or sys.exit?)"
    }


def test_exits_at_import(cases):
    graded = cases.graded("exits_at_import")
    assert_contained(graded)
    assert_every_detail(graded, "lab01_retry.py made the process exit with status 0")
    assert_every_detail(graded, "while it was being imported")


def assert_raised_and_observed(graded: Graded, name: str) -> None:
    """Escaping exceptions are observations, not the end of the grader: the child carries
    on, and the checks report what the calls raised."""
    assert_contained(graded)
    texts = details(graded)
    assert not any("did not finish" in t or "exit with status" in t for t in texts.values())
    assert name in texts["lab01.retries-transient"]
    assert name in texts["lab01.gives-up-with-last-error"]


def test_raises_keyboard_interrupt(cases):
    assert_raised_and_observed(cases.graded("raises_keyboard_interrupt"), "KeyboardInterrupt")


def test_raises_system_exit(cases):
    assert_raised_and_observed(cases.graded("raises_system_exit"), "SystemExit")


# -- floods its output ---------------------------------------------------------------------


def test_floods_output(cases):
    graded = cases.graded("floods_output")
    assert_contained(graded)
    # 320 MiB later, the report is the grader's and the reasons are the stub's own.
    assert len(graded.stdout) < 100_000 and FLOOD not in graded.stdout + graded.stderr
    assert details(graded) == cases.stub


def test_floods_output_forever(cases):
    graded = cases.graded("floods_output_forever")
    assert_contained(graded)
    limit = SandboxConfig.import_timeout
    assert_every_detail(graded, f"did not finish within {limit:g} s", "while it was being imported")
    assert FLOOD not in graded.stdout + graded.stderr


# -- tampers with the judging ----------------------------------------------------------------


def test_patches_pytest_and_answers_equal(cases):
    """Patching pytest in the child, or writing a conftest.py, changes nothing the parent
    runs; objects equal to anything reach the parent only as their type's name."""
    graded = cases.graded("patches_pytest_and_answers_equal")
    assert_contained(graded)
    texts = details(graded)
    assert "not implemented" not in " ".join(texts.values())
    assert "{'unserialisable': 'labs.lab01_retry._YesInt'}" in texts["lab01.retries-transient"]
    assert "{'unserialisable': 'labs.lab01_retry._EqualToAnything'}" in texts[
        "lab01.single-retry-layer"
    ]
    assert not (SITE_PACKAGES / "conftest.py").exists()


def test_prints_forged_results(cases):
    """Forged events on stdout, stderr and every other descriptor (the result channel
    included, with guessed nonces and the one from its environment) are ignored."""
    graded = cases.graded("prints_forged_results")
    assert_contained(graded)
    assert details(graded) == cases.stub


@pytest.mark.xfail(
    strict=True,
    reason="known limit: scenarios run in the submission's own process, so a submission "
    "that knows what the hidden scenarios observe for a correct solution can patch them to "
    "return just that (SPEC forbids a forged done; hiding solutions/ and grader/checks/ "
    "keeps a submission from learning the observations inside the sandbox)",
)
def test_knows_the_expected_observations(cases):
    graded = cases.graded("knows_the_expected_observations")
    assert_contained(graded)


def test_closes_the_result_channel(cases):
    graded = cases.graded("closes_the_result_channel")
    assert_contained(graded)
    assert_every_detail(
        graded,
        "lab01_retry.py closed or replaced the grader's result channel",
        "while it was being imported",
    )


def test_copies_the_solution(cases):
    graded = cases.graded("copies_the_solution")
    if not graded.isolated("filesystem"):
        pytest.xfail(f"solutions/ cannot be hidden here: {graded.sandbox.get('filesystem')}")
    assert_contained(graded)
    assert details(graded) == cases.stub


# -- leaves processes behind ---------------------------------------------------------------


def test_spawns_a_session(cases):
    graded = cases.graded("spawns_a_session")
    assert_contained(graded)
    assert details(graded) == cases.stub


def test_double_forks_a_daemon(cases):
    graded = cases.graded("double_forks_a_daemon")
    if not graded.isolated("processes") and _processes_with(graded.token):
        _kill_processes_with(graded.token)
        pytest.xfail("without a PID namespace a daemon that clears its environment escapes")
    assert_contained(graded)
    assert details(graded) == cases.stub


# -- writes where it must not ------------------------------------------------------------------


def test_writes_into_the_grader(cases):
    graded = cases.graded("writes_into_the_grader")
    assert_contained(graded)
    assert details(graded) == cases.stub


def test_writes_into_home(cases):
    graded = cases.graded("writes_into_home")
    assert_contained(graded)
    assert details(graded) == cases.stub


def test_climbs_out_with_mount(cases):
    """Root, or root of a user namespace, could remount the file system writable or
    unmount what hides the real files; the child has no privilege left to do either."""
    graded = cases.graded("climbs_out_with_mount")
    assert_contained(graded)
    assert details(graded) == cases.stub


# -- reaches for the network -------------------------------------------------------------------


def test_opens_sockets(cases):
    graded = cases.graded("opens_sockets")
    assert_contained(graded)
    assert_every_detail(graded, "lab01_retry.py failed to import: ConnectionError")
    said = details(graded)["lab01.retries-transient"]
    if graded.isolated("network"):
        for where in ("this machine", "loopback", "the internet"):
            assert f"connect to {where}: [Errno 101] Network is unreachable" in said
        # The port is the test's own on this machine: only a network of its own has it free.
        assert "listen: listening" in said
    else:
        assert said.count("network access is blocked while grading") == 4, said


def test_joins_the_host_network(cases):
    graded = cases.graded("joins_the_host_network")
    assert_contained(graded)
    said = details(graded)["lab01.retries-transient"]
    assert "setns via 1: 0" not in said
    assert re.search(r"connect: (\[Errno 101\] Network is unreachable|network access is blocked)", said)


# -- without namespaces (what CI without user namespaces gets) ----------------------------


def _run_without_namespaces(case: Hostile, folder: Path, token: str) -> LabRun:
    write(case, folder, token=token)
    return run_lab(LAB, folder, SandboxConfig(scenario_timeout=case.timeout, isolate=False))


def test_without_namespaces_escaped_processes_are_swept(tmp_path):
    token = str(10**8 + secrets.randbelow(9 * 10**8))
    try:
        run = _run_without_namespaces(CASES_BY_NAME["spawns_a_session"], tmp_path, token)
        assert run.isolation["processes"] == "not attempted"
        assert _processes_with(token) == []
        reasons = {run.result(name).reason for name in run.results}
        assert reasons and reasons <= STUB_REASONS, reasons
    finally:
        _kill_processes_with(token)


def test_without_namespaces_a_nameless_signal_is_still_a_reason(tmp_path):
    case = CASES_BY_NAME["kills_itself_with_a_nameless_signal"]
    run = _run_without_namespaces(case, tmp_path, "0")
    number = signal.SIGRTMIN + 6
    assert run.failure == f"lab01_retry.py was killed by signal {number} while it was being imported"


def test_without_namespaces_the_network_is_refused_in_process(tmp_path):
    with socket.create_server(("0.0.0.0", 0)) as listener:
        listener.setblocking(False)
        case, port = CASES_BY_NAME["opens_sockets"], listener.getsockname()[1]
        write(case, tmp_path, host_ip=_host_address(), port=port)
        run = run_lab(LAB, tmp_path, SandboxConfig(scenario_timeout=case.timeout, isolate=False))
        assert run.isolation["network"] == "not attempted; network blocked in-process only"
        assert run.failure is not None
        assert run.failure.count("network access is blocked while grading") == 4, run.failure
        assert _connections(listener) == 0


# -- the reference solutions, after -------------------------------------------------------------


def test_reference_solutions_still_do_every_item_afterwards(cases):
    for future in cases.futures.values():
        future.result()  # every case graded, and cleaned up after by its own test
    report = grade_json("solutions", "lab01")
    items = items_of(report, "lab01")
    assert {i: item["detail"] for i, item in items.items() if not item["done"]} == {}
    assert report["sandbox"] == cases.reference["sandbox"]
    leftovers = [p for token in cases.tokens.values() for p in _processes_with(token)]
    assert leftovers == []
