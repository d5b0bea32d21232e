"""Fence a grading child in before it imports a submission (Linux; runs in the child).

:func:`isolate` uses Linux namespaces through libc, with no helper binary:

* a network namespace: only a loopback that is down, so every connection fails;
* a mount namespace in which every mount is read-only except a fresh size-capped tmpfs that
  becomes the working directory, ``HOME`` and ``TMPDIR``: the grader's files, the virtual
  environment and the real home directory cannot be written;
* a PID namespace whose first process runs the submission: when it ends, or is killed, the
  kernel kills every process it left behind, even one that escaped into its own session;
* a user namespace when not running as root, which is what lets an ordinary user do the
  above.

Where a namespace cannot be made (no user namespaces, not Linux), the child goes on with
what it has and says so; the grader prints that in its report. :func:`limit_resources` then
sets the resource limits that work everywhere.

Namespaces alone leave the child its privileges: root, or root of its own user namespace,
may remount the file system writable, join the host's network through ``/proc/1/ns/net``
or raise its own limits. :func:`seal`, the last step before the submission runs, hides
what the submission must not read and gives up every privilege for good.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
ST_RELATIME = 0x1000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

#: Flags a remount inside a user namespace must keep, or the kernel refuses it.
_LOCKED_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME


@dataclass
class Isolation:
    """What the child managed to fence off; ``None`` means done, a string says why not."""

    network: str | None = "not attempted"
    filesystem: str | None = "not attempted"
    processes: str | None = "not attempted"

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one grading child."""

    memory_bytes: int = 4 << 30
    cpu_seconds: int = 300
    file_bytes: int = 64 << 20
    open_files: int = 256
    tmpfs_bytes: int = 256 << 20


class _Libc:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

    def call(self, name: str, *args: object) -> None:
        if getattr(self.lib, name)(*args) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{name}: {os.strerror(errno)}")


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when ``parent``, the grader that started it, dies,
    and exit at once if it already has: a grader killed half-way (a batch interrupted with
    SIGKILL) leaves no sandbox running on after it. Linux only; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    _Libc().lib.prctl(*_ulongs(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def isolate(workdir: str, limits: Limits) -> Isolation:
    """Put this process in fresh namespaces and make ``workdir`` its only writable place.

    Must run while the process has a single thread. When the PID namespace is made, the
    process forks: the original waits for the new one (PID 1 in the namespace), passes on
    its exit status, and never returns from this function. Only the new process returns.
    """
    report = Isolation()
    if not sys.platform.startswith("linux"):
        reason = f"namespaces need Linux (this is {sys.platform})"
        return Isolation(network=reason, filesystem=reason, processes=reason)
    libc = _Libc()
    uid, gid = os.getuid(), os.getgid()
    try:
        flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | (0 if uid == 0 else CLONE_NEWUSER)
        libc.call("unshare", flags)
        if uid != 0:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as error:
        reason = f"namespaces unavailable ({error.strerror})"
        return Isolation(network=reason, filesystem=reason, processes=reason)
    report.network = None
    try:
        _read_only_except(libc, workdir, limits.tmpfs_bytes)
        report.filesystem = None
    except OSError as error:
        report.filesystem = f"could not make the file system read-only ({error.strerror})"
    _become_pid_one(libc)
    report.processes = None
    return report


def limit_resources(limits: Limits) -> None:
    """Memory, CPU seconds, file size, open files, and no core dumps."""
    for which, value in (
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def seal(report: Isolation, hidden: Sequence[str]) -> None:
    """Hide ``hidden`` and drop every privilege; call it once everything trusted is imported.

    * Each existing path in ``hidden`` disappears under an empty read-only mount, where the
      file system was made read-only (so the mount namespace is this process's own). Code
      imported earlier keeps working; nothing may import from there later.
    * Every capability goes, from the bounding set too, and ``no_new_privs`` is set, so
      neither this process nor anything it runs (a set-user-ID program included) can mount,
      unmount, enter another namespace, or raise a resource limit again.
    * With the PID namespace in place the process also becomes non-dumpable, so another
      child running as the same user cannot reach its memory or file descriptors through
      ``/proc``. (Without it, the parent must still read escaped processes' environments.)

    What fails is added to ``report``.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = _Libc()
    if report.filesystem is None:
        for path in hidden:
            try:
                _hide(libc, path)
            except OSError as error:
                report.filesystem = f"could not hide {path} ({error.strerror})"
    try:
        _drop_privileges(libc)
        if report.processes is None:
            libc.call("prctl", *_ulongs(PR_SET_DUMPABLE, 0, 0, 0, 0))
    except OSError as error:
        why = f"could not drop privileges ({error.strerror})"
        report.filesystem = report.filesystem or why
        report.network = report.network or why


def _hide(libc: _Libc, path: str) -> None:
    if os.path.isdir(path):
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        libc.call("mount", b"tmpfs", path.encode(), b"tmpfs", flags, b"size=4k,mode=0555")
    elif os.path.exists(path):  # a file, such as a worktree's .git
        libc.call("mount", b"/dev/null", path.encode(), None, MS_BIND, None)


def _drop_privileges(libc: _Libc) -> None:
    libc.call("prctl", *_ulongs(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = 63
    for capability in range(last + 1):
        # Fails only without CAP_SETPCAP: then the bounding set is not this process's to
        # shrink, and no_new_privs already keeps execve from granting anything.
        libc.lib.prctl(*_ulongs(PR_CAPBSET_DROP, capability, 0, 0, 0))
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    nothing = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable; two words each
    libc.call("capset", header, nothing)


def _ulongs(*values: int) -> list[ctypes.c_ulong]:
    return [ctypes.c_ulong(value) for value in values]


def _read_only_except(libc: _Libc, workdir: str, tmpfs_bytes: int) -> None:
    libc.call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    mount_points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            mount_points.append(_unescape(line.split()[4]))
    for point in mount_points:
        try:
            state = os.statvfs(point)
        except OSError:
            continue  # hidden under another mount, or gone: nothing to remount
        keep = state.f_flag & _LOCKED_FLAGS
        if state.f_flag & ST_RELATIME:
            keep |= MS_RELATIME
        libc.call(
            "mount", None, point.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, None
        )
    options = f"size={tmpfs_bytes},mode=0700".encode()
    libc.call("mount", b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options)


def _become_pid_one(libc: _Libc) -> None:
    child = os.fork()
    if child == 0:
        libc.lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        return
    while True:
        try:
            _pid, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # passed on as "killed by signal": the parent reads it the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
