"""Guard a command's output files: checks before any work, and all-or-nothing writes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from privaudit.errors import ConfigError


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


def atomic_write(data: bytes, path: Path) -> None:
    """Write `data` to `path` atomically: a temp file in the same folder, then os.replace.

    A reader never sees a half-written file, and an interrupted write (even by Ctrl-C)
    leaves nothing behind. The file gets the mode `open()` would give it (umask applied).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode())  # NOTE: mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
            backups[path] = _backup(path)
            temps[path] = set(_temp_files(path))
        yield
    except BaseException:
        for path, backup in backups.items():
            for tmp in set(_temp_files(path)) - temps[path]:
                tmp.unlink(missing_ok=True)
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
        raise
    else:
        for backup in backups.values():
            if backup is not None:
                backup.unlink(missing_ok=True)


def _temp_files(path: Path) -> list[Path]:
    return list(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []


def _backup(path: Path) -> Path | None:
    """A second name for `path`'s current content (None when there is no such file)."""
    if not path.is_file():
        return None
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bak", dir=path.parent)
    os.close(fd)
    backup = Path(name)
    try:
        backup.unlink()
        os.link(path, backup)
    except OSError:  # NOTE: no hard links on this file system: copy instead
        shutil.copy2(path, backup)
    return backup


def refuse_overwrite(
    outputs: Sequence[Path], inputs: Mapping[str, Path | None], *, flag: str
) -> None:
    """Refuse outputs that are one of the inputs (the same file under any name).

    Args:
        outputs: the files the command will write.
        inputs: what each input is ("model", "data", ...) and its path (None: not given).
        flag: the option that chose the outputs, named in the hint.

    Raises:
        ConfigError: an output is an input file.
    """
    for out in outputs:
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
    check_writable_dir(path.parent, flag=flag)
