"""Guard a command's output files: checks before any work, and all-or-nothing writes."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from privaudit.errors import ConfigError

if sys.platform != "win32":  # NOTE: no flock on Windows; runs there are not locked
    import fcntl

log = logging.getLogger(__name__)

LOCK_NAME = ".privaudit.lock"
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def check_writable_dir(folder: Path, *, flag: str = "--output-dir") -> None:
    """Create `folder` if needed and prove a file can be written there.

    Args:
        folder: the output folder.
        flag: the command-line option that chose it, named in the hint.

    Raises:
        ConfigError: the folder cannot be created or written.
    """
    try:
        if folder.exists() and not folder.is_dir():
            raise OSError("exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".privaudit-probe-"):
            pass
    except OSError as e:
        raise ConfigError(
            f"cannot write to output folder {folder}: {e.strerror or e}",
            hint=f"choose a writable folder with {flag}",
        ) from None


@contextmanager
def remove_new_folders_on_failure(folders: Sequence[Path]) -> Iterator[None]:
    """If the block fails or is interrupted, remove the folders it created that are still empty.

    Each of `folders` that does not exist yet, and each missing folder above it, is noted
    before the block; on failure those are removed deepest first where they are empty. A
    folder that existed before the block, or that holds anything (`os.rmdir` refuses it), is
    never removed. Enter it before `lock_folders`, so that the lock file is gone by then.
    """
    new = sorted({p for f in folders for p in _missing_folders(f)},
                 key=lambda p: len(p.parts), reverse=True)
    try:
        yield
    except BaseException:
        for folder in new:
            with suppress(OSError):
                folder.rmdir()
        raise


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and the folders above it that do not exist (yet), as absolute paths."""
    missing, path = [], folder.absolute()
    while path != path.parent and not path.exists() and not path.is_symlink():
        missing.append(path)
        path = path.parent
    return missing


def atomic_write(data: bytes, path: Path, *, hint: str | None = None) -> None:
    """Write `data` to `path` atomically: a temp file in the same folder, then os.replace.

    A reader never sees a half-written file, and an interrupted write (even by Ctrl-C)
    leaves nothing behind. The file gets the mode `open()` would give it (umask applied).

    Args:
        data: the file's bytes.
        path: the file.
        hint: the hint of a failed write (see `write_error`), for a command whose option
            names a file rather than an output folder.
    """
    refuse_special(path, hint=hint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e, hint=hint) from None
    try:
        os.chmod(tmp, _file_mode())  # NOTE: mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise write_error(path, e, hint=hint) from None
        raise


def refuse_special(path: Path, *, hint: str | None = None) -> None:
    """Refuse an output path that exists and is not a regular file (or a folder, said apart).

    Writing through a temp file and a rename would replace a device (`/dev/null`), a named
    pipe or a socket with a regular file: a tester's `harden -o /dev/null` did.

    Raises:
        ConfigError: `path` is such a file.
    """
    if path.exists() and not path.is_file() and not path.is_dir():
        raise ConfigError(f"output {path} exists and is not a regular file (a device, a pipe "
                          "or a socket); privaudit writes regular files only",
                          hint=hint or "choose another output path")  # fmt: skip


def write_error(path: Path, error: OSError, *, hint: str | None = None) -> ConfigError:
    """The user's error (exit 2) for a failed write of `path`: a full disk, no permission...

    Args:
        path: the file that could not be written.
        error: why.
        hint: the hint, for a command whose option names the file; None: the output folders'.

    Returns:
        The ConfigError to raise, naming the file and the reason.
    """
    reason = error.strerror or str(error)
    if error.errno in _FULL:
        return ConfigError(f"cannot write {path}: {reason} (the disk or quota is full)",
                           hint="free some disk space, or write to another folder "
                           "(--output-dir, or -o for harden's model)" if hint is None else
                           f"free some disk space; or: {hint}")  # fmt: skip
    return ConfigError(f"cannot write {path}: {reason}", hint=hint or
                       "choose a writable folder (--output-dir, or -o for harden's model)")


def _file_mode() -> int:
    """The mode `open()` would give a new file: 0o666 minus the process umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (through symlinks, `..` and hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # NOTE: one of them does not exist (yet): not the same file
        return False


@contextmanager
def restore_on_failure(paths: Sequence[Path]) -> Iterator[None]:
    """All or nothing: if the block fails or is interrupted, put `paths` back as they were.

    A path that did not exist is removed again; one that existed gets its old content back
    (kept as a hard link, or a copy, next to it while the block runs: so writers must
    replace the file, as `write_report` and `harden.save_model` do, not write into it).
    Temporary files `.NAME.*.tmp` that appeared next to a path during the block are removed.
    """
    backups: dict[Path, Path | None] = {}
    temps: dict[Path, set[Path]] = {}
    try:
        for path in paths:
            temps[path] = set(_temp_files(path))
            backups[path] = _backup(path)
        yield
    except BaseException:
        for path, backup in backups.items():
            for tmp in set(_temp_files(path)) - temps[path]:
                tmp.unlink(missing_ok=True)
            try:
                _put_back(path, backup)
            except OSError as e:  # NOTE: the failure that got here is the one to report
                log.warning("could not put %s back as it was: %s", path, e.strerror or e)
        raise
    finally:
        for backup in backups.values():  # NOTE: every backup goes, whatever happened above
            if backup is not None:
                backup.unlink(missing_ok=True)


def _put_back(path: Path, backup: Path | None) -> None:
    """Give `path` its content from before the block again (remove it if it had none).

    # NOTE: a backup is a hard link to the old file while `path` was not replaced yet;
    # os.replace between two names of one file does nothing (POSIX), so that case is a no-op
    # here and the backup name is removed by the caller.
    """
    if backup is None:
        if not path.is_dir():  # NOTE: a folder there was there before (no writer makes one)
            path.unlink(missing_ok=True)
    elif not same_file(path, backup):
        os.replace(backup, path)


def _temp_files(path: Path) -> list[Path]:
    return list(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []


def _backup(path: Path) -> Path | None:
    """A second name for `path`'s current content (None when there is no such file)."""
    if not path.is_file():
        return None
    backup: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bak", dir=path.parent)
        os.close(fd)
        backup = Path(name)
        backup.unlink()
        try:
            os.link(path, backup)
        except OSError:  # NOTE: no hard links on this file system: copy instead
            shutil.copy2(path, backup)
    except OSError as e:
        if backup is not None:
            backup.unlink(missing_ok=True)
        raise write_error(path, e) from None
    return backup


@contextmanager
def lock_folders(folders: Sequence[Path]) -> Iterator[None]:
    """Hold the output lock of each folder while the block runs: one run writes there at a time.

    The lock is a file `.privaudit.lock` holding the owner's pid, locked with `flock`: the
    system releases it when its process ends, however it ends, so a lock left by a killed run
    is simply taken over. The file is removed when the block ends.

    Raises:
        ConfigError: another running process holds a folder's lock (its pid is named).
    """
    unique = list(dict.fromkeys(f.resolve() for f in folders))
    with ExitStack() as stack:
        for folder in unique:
            stack.enter_context(_folder_lock(folder))
        yield


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One folder's lock (see `lock_folders`); no-op where `flock` does not exist."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    path = folder / LOCK_NAME
    fd = _acquire(path)
    try:
        yield
    finally:
        if fd is not None:
            path.unlink(missing_ok=True)  # NOTE: while still locked, so no one holds the old file
            os.close(fd)


def _acquire(path: Path) -> int | None:
    """Lock file `path` exclusively and write our pid; the fd (None: locks unsupported here)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise write_error(path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise ConfigError(
                f"output folder {path.parent} is in use by another privaudit run (pid {pid})",
                hint="wait for that run to end, or choose another output folder "
                "(--output-dir, or -o for harden's model)",
            ) from None
        except OSError:  # NOTE: a file system without locks (some network mounts): go on
            os.close(fd)
            return None
        if _still_linked(fd, path):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # NOTE: its owner removed it after we opened it: lock the new one


def _read_pid(fd: int) -> str:
    """The pid written in a lock file ("unknown" when it cannot be read)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def _still_linked(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is still the file at `path` (not removed or replaced)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def refuse_overwrite(
    outputs: Sequence[Path], inputs: Mapping[str, Path | None], *, flag: str
) -> None:
    """Refuse outputs that are one of the inputs (the same file under any name).

    Args:
        outputs: the files the command will write.
        inputs: what each input is ("model", "data", ...) and its path (None: not given).
        flag: the option that chose the outputs, named in the hint.

    Raises:
        ConfigError: an output is an input file, or exists and is not a regular file.
    """
    for out in outputs:
        refuse_special(out, hint=f"choose another {flag}")
        for what, path in inputs.items():
            if path is not None and same_file(out, path):
                raise ConfigError(
                    f"output {out} would overwrite the input {what} {path}; inputs are never "
                    "overwritten",
                    hint=f"choose another {flag}",
                )


def check_model_output(path: Path, reports: Sequence[Path] = (), *, flag: str = "-o") -> None:
    """Check, before any work, that a model file can be written at `path`.

    Args:
        path: where the model goes.
        reports: the report files the same command writes.
        flag: the option that chose `path`, named in the hints.

    Raises:
        ConfigError: `path` is a folder, is one of the reports, or its folder cannot be written.
    """
    if any(same_file(path, r) for r in reports):
        raise ConfigError(f"output {path} is also where a report goes",
                          hint=f"choose another {flag} (or --output-dir)")
    if path.is_dir():
        raise ConfigError(f"output {path} is a folder, not a file name",
                          hint=f"give a file name with {flag}, e.g. {path / 'hardened.onnx'}")
    refuse_special(path, hint=f"choose another {flag}")
    check_writable_dir(path.parent, flag=flag)
