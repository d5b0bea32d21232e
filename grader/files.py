"""Files the grader writes and reads: atomic writes, content hashes, safe zip extraction."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Collection, Iterable
from pathlib import Path, PurePosixPath

#: The most a submission's zip may unpack to: a zip bomb is refused, not unpacked.
MAX_UNPACKED_BYTES = 64 << 20


class BadSubmission(ValueError):
    """A submission that cannot be graded as it is; the message says why, for its row."""


def write_atomically(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` in one step: a reader sees the old file or the new
    one, never half of one. The temporary file is in the same folder (a rename across file
    systems is not atomic), synced before the rename, and removed if anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The file's mode when it exists, else what the umask allows (mkstemp makes it 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def tree_hash(root: Path, paths: Iterable[Path]) -> str:
    """SHA-256 of files' paths (relative to ``root``) and contents, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def extract_zip(archive: Path, destination: Path) -> Path:
    """Unpack ``archive`` into ``destination`` and return the folder holding its files (the
    archive's single top folder, when it has one).

    Refused with :class:`BadSubmission`: a file that is not a zip, an empty one, a member
    that would land outside ``destination`` (an absolute path or ``..``), a link, and more
    than :data:`MAX_UNPACKED_BYTES` once unpacked. Nothing is written before every member
    has been checked.
    """
    if not zipfile.is_zipfile(archive):
        raise BadSubmission(f"{archive.name} is not a zip file")
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if not m.is_dir()]
            if not members:
                raise BadSubmission(f"{archive.name} is empty")
            total = 0
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or ":" in name.parts[0]:
                    raise BadSubmission(
                        f"{archive.name} tries to write outside its folder: {member.filename}")
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise BadSubmission(f"{archive.name} holds a link: {member.filename}")
                total += member.file_size
                if total > MAX_UNPACKED_BYTES:
                    raise BadSubmission(
                        f"{archive.name} unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
            for member in members:
                target = destination.joinpath(*PurePosixPath(
                    member.filename.replace("\\", "/")).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bundle.read(member))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise BadSubmission(f"{archive.name} is a damaged zip file ({error})") from None
    except (NotImplementedError, RuntimeError) as error:  # a compression or cipher zipfile lacks
        raise BadSubmission(f"{archive.name} cannot be unpacked: {error}") from None
    tops = {PurePosixPath(m.filename.replace("\\", "/")).parts[0] for m in members}
    single = destination / next(iter(tops))
    return single if len(tops) == 1 and single.is_dir() else destination


def gather_modules(source: Path, names: Collection[str], into: Path) -> dict[str, Path]:
    """Copy the submission's lab modules into the empty folder ``into``: every regular file
    under ``source`` whose name is in ``names``, the shallowest of each name (a student's
    ``labs/lab01_retry.py`` as well as a bare ``lab01_retry.py``). Links are not followed.
    Returns ``{name: where it was found}``; raises :class:`BadSubmission` when there is none.
    """
    found: dict[str, Path] = {}
    inside = source.resolve()
    candidates = sorted(source.rglob("*.py"), key=lambda p: (len(p.parts), p.as_posix()))
    for path in candidates:
        if path.name in names and path.is_file() and not path.is_symlink() \
                and inside in path.resolve().parents:
            found.setdefault(path.name, path)
    if not found:
        raise BadSubmission("no lab module was found in the submission (expected files "
                            f"such as {sorted(names)[0]})")
    for name, path in found.items():
        shutil.copyfile(path, into / name)
    return found
