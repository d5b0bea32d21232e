"""Run one lab's scenarios against a submission in sandboxed children (parent side).

:func:`run_lab` copies the lab's module out of the submission into a fresh temporary
folder, starts a child (:mod:`grader.child`) in its own session, sends it the job, and
reads its events from a private pipe, timing each phase: start-up, the submission's import,
and every scenario. A child that overstays a phase, exits, or is killed has its whole
process group killed; the scenario it was running is recorded as failed with the reason,
and the scenarios it had not reached run in a fresh child. So one hanging scenario costs
the items that need it, never the lab. Every child must settle at least one scenario it
was given (a child that claims to have finished without doing so was tampered with): so
at most one child per scenario, and the grading always ends. Output the submission prints
is drained and dropped, so flooding it only wastes the submission's own time.

The parent parses JSON from the child and nothing else: no pickle, no import of anything
the child wrote. The child's events carry a nonce that only the job on its stdin holds; the
marker in its environment, used to find escaped processes, is a different token. Inside
the sandbox the folders in :data:`HIDDEN` (the reference solutions, the checks, the
repository's history) are hidden from the submission.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.checklist import LABS_BY_ID, Lab
from grader.child import CHANNEL_LOST
from grader.isolation import Limits

ROOT = Path(__file__).resolve().parent.parent
#: Folders whose files the parent trusts; a child must never change them.
TRUSTED = ("grader", "labs/kit", "solutions")
#: What a submission must not read: the answers, the checks that judge it, the history.
HIDDEN = ("solutions", "grader/checks", ".git")
#: What the lab's temporary folder is called in results: the same on every run.
SCRATCH = "<sandbox>"
MAX_MODULE_BYTES = 1 << 20
MAX_CHANNEL_BYTES = 64 << 20
KEEP_OUTPUT_BYTES = 16 << 10
UNSETTLED = (
    "the sandbox ended without running this scenario "
    "(did the submission write to the grader's result channel?)"
)


@dataclass(frozen=True)
class SandboxConfig:
    """Time limits (real seconds) and resource limits for grading one lab."""

    startup_timeout: float = 60.0
    import_timeout: float = 10.0
    scenario_timeout: float = 10.0
    limits: Limits = Limits()
    isolate: bool = True


@dataclass
class ScenarioResult:
    """What one scenario came to: ``ok`` with an observation, or a reason it has none."""

    status: str  # "ok", "aborted" (not implemented), "crashed", "failed" (the child's fault)
    observation: Any = None
    reason: str | None = None


@dataclass
class LabRun:
    """Every scenario's result for one lab, and how well the children were fenced in."""

    results: dict[str, ScenarioResult] = field(default_factory=dict)
    isolation: dict[str, str | None] = field(default_factory=dict)
    children: int = 0
    failure: str | None = None
    """Set when no scenario could run at all (missing module, import failure, start-up)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Real seconds spent per phase over every child: ``start-up`` (the interpreter and
    the trusted imports), ``import`` (the submission's), and each scenario by name. For
    profiling the grader; never part of a verdict or a report."""

    def result(self, scenario: str) -> ScenarioResult:
        if scenario in self.results:
            return self.results[scenario]
        if self.failure is not None:
            return ScenarioResult("failed", reason=self.failure)
        return ScenarioResult("failed", reason=f"the grader has no scenario {scenario!r}")


def run_lab(lab: Lab, impl: Path, config: SandboxConfig = SandboxConfig()) -> LabRun:
    """Run every scenario of ``lab`` against ``impl/<lab.module>.py``; the reference
    solutions stand in for the earlier labs it uses (:attr:`Lab.uses`), the submission's
    own go with it for the labs it composes (:attr:`Lab.composes`)."""
    run = LabRun()
    config = replace(config, scenario_timeout=config.scenario_timeout * lab.time_scale)
    substitutes = {
        LABS_BY_ID[earlier].module: f"solutions.{LABS_BY_ID[earlier].module}"
        for earlier in lab.uses
    }
    sources = [impl / f"{lab.module}.py"]
    sources += [impl / f"{LABS_BY_ID[earlier].module}.py" for earlier in lab.composes]
    problems = [problem for problem in map(_unusable, sources) if problem is not None]
    if problems:
        run.failure = "; ".join(problems)
        if lab.composes and len(problems) < len(sources):
            run.failure += f" ({lab.id} is built from your own earlier labs, graded together)"
        return run
    before = _fingerprint()
    with tempfile.TemporaryDirectory(prefix=f"grader-{lab.id}-") as scratch:
        folder = Path(scratch)
        submission = folder / "submission"
        submission.mkdir()
        for source in sources:
            shutil.copyfile(source, submission / source.name)
        pending: list[str] | None = None  # None: all of them, as the child lists them
        while pending is None or pending:
            workdir = folder / f"work{run.children}"
            workdir.mkdir(mode=0o700)
            child = _Child(lab, submission, workdir, pending, config, substitutes)
            run.children += 1
            outcome = child.run()
            run.isolation = run.isolation or outcome.isolation
            for phase, spent in outcome.seconds.items():
                run.seconds[phase] = run.seconds.get(phase, 0.0) + spent
            asked = outcome.scenarios if pending is None else pending
            settled = any(name in outcome.results for name in asked or ())
            run.results.update(outcome.results)
            if outcome.scenarios is None or outcome.stopped_all is not None:
                run.failure = outcome.stopped_all or "the sandbox did not start"
                break
            pending = [name for name in outcome.scenarios if name not in run.results]
            if pending and not settled:  # a forged "finished": another child would do the same
                for name in pending:
                    run.results[name] = ScenarioResult("failed", reason=UNSETTLED)
                break
    run.results = {name: _without_path(result, scratch)
                   for name, result in run.results.items()}
    if run.failure is not None:
        run.failure = run.failure.replace(scratch, SCRATCH)
    if _fingerprint() != before:
        run.results.clear()
        run.failure = "the submission changed the grader's own files; nothing it did counts"
    return run


def _without_path(result: ScenarioResult, scratch: str) -> ScenarioResult:
    """The result with the lab's temporary folder, which differs on every run, written as
    :data:`SCRATCH` wherever it appears (a path a submission put in an error message)."""
    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(scratch, SCRATCH)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    return ScenarioResult(result.status, scrub(result.observation), scrub(result.reason))


def _unusable(source: Path) -> str | None:
    if not source.exists():
        return f"{source.name} was not found in the submission"
    if source.is_symlink() or not source.is_file():
        return f"{source.name} is not a regular file"
    if source.stat().st_size > MAX_MODULE_BYTES:
        return f"{source.name} is larger than {MAX_MODULE_BYTES >> 20} MiB"
    return None


def _fingerprint() -> list[tuple[str, int, int]]:
    """Size and modification time of every trusted file: cheap, and enough to notice a
    write where the file system could not be made read-only."""
    files = []
    for folder in TRUSTED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                files.append((str(path), stat.st_size, stat.st_mtime_ns))
    return files


@dataclass
class _ChildOutcome:
    results: dict[str, ScenarioResult] = field(default_factory=dict)
    scenarios: list[str] | None = None
    isolation: dict[str, str | None] = field(default_factory=dict)
    stopped_all: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


class _Child:
    """One sandboxed child process and the parent's view of its events."""

    def __init__(
        self,
        lab: Lab,
        submission: Path,
        workdir: Path,
        scenarios: list[str] | None,
        config: SandboxConfig,
        substitutes: dict[str, str],
    ) -> None:
        self.lab = lab
        self.config = config
        self.nonce = secrets.token_hex(16)
        self.marker = secrets.token_hex(16)
        self.job = {
            "lab": lab.id,
            "module": lab.module,
            "submission": str(submission),
            "workdir": str(workdir),
            "scenarios": scenarios,
            "substitutes": substitutes,
            "limits": asdict(config.limits),
            "isolate": config.isolate,
            "nonce": self.nonce,
            "parent": os.getpid(),
            "hide": [str(ROOT / path) for path in HIDDEN],
        }
        self.workdir = workdir
        self.outcome = _ChildOutcome()
        self.phase = "start-up"
        self.current: str | None = None
        self.finished = False
        self.since = time.monotonic()

    def run(self) -> _ChildOutcome:
        read_end, write_end = os.pipe()
        self.job["channel"] = write_end
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "GRADER_SANDBOX": self.marker,
        }
        bootstrap = (
            "import sys; sys.path[:] = [p for p in sys.path if p]; "
            "sys.path.insert(0, sys.argv[1]); from grader.child import main; main()"
        )
        process = subprocess.Popen(
            [sys.executable, "-s", "-B", "-c", bootstrap, str(ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_end,),
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        os.close(write_end)
        drains = [_Drain(process.stdout), _Drain(process.stderr)]
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(self.job).encode())
            process.stdin.close()
        except OSError:
            pass  # the child died at once; its exit status says why
        timed_out = self._read_events(read_end)
        os.close(read_end)
        _kill_group(process)
        process.wait()
        if self.outcome.isolation.get("processes") is not None:
            _sweep(self.marker)
        for drain in drains:
            drain.join()
        if not self.finished:
            self._record_death(process.returncode, timed_out, drains[1].head)
            self._timed(self.current or self.phase)
        return self.outcome

    def _timed(self, phase: str) -> None:
        """Add the real time since the last event to ``phase``."""
        now = time.monotonic()
        self.outcome.seconds[phase] = self.outcome.seconds.get(phase, 0.0) + now - self.since
        self.since = now

    def _deadline_for_phase(self) -> float:
        limit = {
            "start-up": self.config.startup_timeout,
            "import": self.config.import_timeout,
        }.get(self.phase, self.config.scenario_timeout)
        return time.monotonic() + limit

    def _read_events(self, fd: int) -> bool:
        """Read events until the child finishes, dies or overstays; True when it overstayed."""
        buffer = b""
        received = 0
        deadline = self._deadline_for_phase()
        while not self.finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return False
            received += len(chunk)
            if received > MAX_CHANNEL_BYTES:
                self.outcome.stopped_all = "the sandbox sent more than 64 MiB of results"
                return False
            buffer += chunk
            while b"\n" in buffer and not self.finished:
                line, buffer = buffer.split(b"\n", 1)
                if self._handle(line):
                    deadline = self._deadline_for_phase()
        return False

    def _handle(self, line: bytes) -> bool:
        """Apply one event; True when it starts a new timed phase. Lines without the
        nonce, or out of order, are ignored: only the grader's own code writes them."""
        try:
            event = json.loads(line)
        except ValueError:
            return False
        if not isinstance(event, dict) or event.get("nonce") != self.nonce:
            return False
        kind = event.get("event")
        self._timed(self.current or self.phase)
        if kind == "ready" and self.phase == "start-up":
            self.outcome.isolation = event.get("isolation", {})
            self.outcome.scenarios = list(
                self.job["scenarios"] if self.job["scenarios"] is not None else event["scenarios"]
            )
            self.phase = "import"
        elif kind == "import-failed" and self.phase == "import":
            self.outcome.stopped_all = str(event.get("reason"))
            self.finished = True
        elif kind == "imported" and self.phase == "import":
            self.phase = "scenarios"
        elif (
            kind == "start"
            and self.phase == "scenarios"
            and self.current is None
            and event.get("scenario") in self.outcome.scenarios
            and event.get("scenario") not in self.outcome.results
        ):
            self.current = str(event.get("scenario"))
        elif kind == "done" and self.current is not None and event.get("scenario") == self.current:
            status = str(event.get("status"))
            self.outcome.results[self.current] = ScenarioResult(
                status, event.get("observation"), event.get("reason")
            )
            self.current = None
        elif kind == "finished" and self.phase == "scenarios" and self.current is None:
            self.finished = True
        else:
            return False
        return True

    def _record_death(self, returncode: int, timed_out: bool, stderr: bytes) -> None:
        if timed_out:
            limit = {
                "start-up": self.config.startup_timeout,
                "import": self.config.import_timeout,
            }.get(self.phase, self.config.scenario_timeout)
            how = f"did not finish within {limit:g} s (stuck in a loop, blocked, or really sleeping?)"
        else:
            how = _describe_exit(returncode)
        if self.phase == "start-up":
            detail = _last_line(stderr)
            self.outcome.stopped_all = f"the sandbox failed to start: {how}" + (
                f" ({detail})" if detail else ""
            )
        elif self.phase == "import":
            self.outcome.stopped_all = f"{self.lab.module}.py {how} while it was being imported"
        elif self.current is not None:
            self.outcome.results[self.current] = ScenarioResult(
                "failed", reason=f"the submission {how}"
            )
        elif self.outcome.stopped_all is None:
            self.outcome.stopped_all = f"the sandbox {how} between scenarios"


class _Drain(threading.Thread):
    """Reads a child's output to its end, keeping only the first bytes."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.head = b""
        self.start()

    def run(self) -> None:
        while True:
            chunk = self.stream.read1(1 << 16)
            if not chunk:
                break
            if len(self.head) < KEEP_OUTPUT_BYTES:
                self.head += chunk[: KEEP_OUTPUT_BYTES - len(self.head)]
        self.stream.close()

    def join(self, timeout: float | None = 5.0) -> None:
        super().join(timeout)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _sweep(token: str) -> None:
    """Without a PID namespace, find and kill what escaped the process group: every
    process whose environment still carries this child's marker."""
    marker = f"GRADER_SANDBOX={token}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
        except OSError:
            continue


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:  # a real-time signal, say: it has no name
            return f"was killed by signal {-returncode}"
        why = {
            "SIGKILL": "killed (SIGKILL)",
            "SIGXCPU": "used up its CPU time (SIGXCPU)",
            "SIGXFSZ": "wrote a file past the size limit (SIGXFSZ)",
            "SIGSEGV": "crashed (SIGSEGV)",
        }
        return why.get(name, f"was killed by {name}")
    if returncode == CHANNEL_LOST:
        return "closed or replaced the grader's result channel (a file descriptor it did not open)"
    return f"made the process exit with status {returncode} (os._exit or sys.exit?)"


def _last_line(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
