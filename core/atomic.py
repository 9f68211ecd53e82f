"""Atomic file writing: a crash or kill never leaves a half-written file under the final name."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success it is renamed onto ``path``
    (with the permissions a plain ``open`` would give), on any error it is removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    while True:
        # named before it exists, so an interrupt (the CLI turns the add-on's SIGTERM into
        # KeyboardInterrupt) at any point after creating it still knows what to remove
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            break
        except FileExistsError:
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



def folder_writable(folder: str | os.PathLike) -> bool:
    """Whether a file can be created in ``folder``, found by creating (and removing) one:
    ``os.access`` says yes to root even where the file system refuses."""
    probe = Path(folder) / f".ohgesture-probe-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        return False
    probe.unlink(missing_ok=True)
    return True
