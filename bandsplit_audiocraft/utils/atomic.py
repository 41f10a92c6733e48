"""Atomic file output: everything the package writes (audio, compressed files, manifests, checkpoints) goes
to a temporary file in the destination folder, is flushed to disk, then moved into place in one step. A
reader, or a run killed at any moment, sees either no file, the old file or the complete new one.

Without `overwrite`, an existing destination is never replaced, even one that appears while writing (the
temporary file is hard-linked into place, which fails if the name exists).
"""

import os
from pathlib import Path
import tempfile
import typing as tp

from . import PathLike


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_current_umask()  # permissions of the files written here, as open() would give.


def exists_error(path: PathLike) -> FileExistsError:
    return FileExistsError(f"{str(path)!r} already exists; ask to overwrite (--overwrite on the command line) "
                           f"to replace it.")


def check_destination(path: PathLike, overwrite: bool) -> Path:
    """`path` as a Path, after checking it is not a folder and, without `overwrite`, does not exist."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"Cannot write to {str(path)!r}: it is a directory.")
    if path.exists() and not overwrite:
        raise exists_error(path)
    return path


def temporary_sibling(path: Path) -> tp.Tuple[int, Path]:
    """A new temporary file next to `path` (its folder is created): `(open descriptor, its path)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    return fd, Path(tmp)


def publish(tmp: Path, path: Path, overwrite: bool) -> Path:
    """Move the finished temporary file `tmp` to `path` in one step; `tmp` is gone afterwards in any case."""
    try:
        os.chmod(tmp, FILE_MODE)
        if overwrite:
            os.replace(tmp, path)
            return path
        try:
            os.link(tmp, path)  # fails if `path` appeared meanwhile: never replaces a file
        except FileExistsError:
            raise exists_error(path) from None
        except OSError:  # no hard links on this file system: the existence check done before has to do
            if path.exists():
                raise exists_error(path) from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write(path: PathLike, write: tp.Callable[[tp.BinaryIO], tp.Any], *, overwrite: bool = False) -> Path:
    """Call `write(f)` on a binary file that becomes `path` once `write` returned and the data is on disk."""
    path = check_destination(path, overwrite)
    fd, tmp = temporary_sibling(path)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return publish(tmp, path, overwrite)


def atomic_write_bytes(path: PathLike, data: bytes, *, overwrite: bool = False) -> int:
    """Write `data` to `path` atomically; returns the number of bytes written."""
    atomic_write(path, lambda f: f.write(data), overwrite=overwrite)
    return len(data)


def atomic_torch_save(obj: tp.Any, path: PathLike, *, overwrite: bool = True) -> Path:
    """`torch.save(obj)` to `path` atomically."""
    import torch
    return atomic_write(path, lambda f: torch.save(obj, f), overwrite=overwrite)
