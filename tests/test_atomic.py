"""Atomic output: complete files or nothing, never a silent replacement."""
import os

import pytest

from bandsplit_audiocraft.utils import atomic


def test_write_creates_folders_and_files_with_default_permissions(tmp_path):
    path = tmp_path / 'a' / 'b' / 'out.bin'
    assert atomic.atomic_write_bytes(path, b'hello') == 5
    assert path.read_bytes() == b'hello'
    assert path.stat().st_mode & 0o777 == atomic.FILE_MODE
    assert os.listdir(path.parent) == ['out.bin']


def test_existing_files_are_kept_unless_asked(tmp_path):
    path = tmp_path / 'out.bin'
    path.write_bytes(b'old')
    with pytest.raises(FileExistsError, match='already exists'):
        atomic.atomic_write_bytes(path, b'new')
    assert path.read_bytes() == b'old'
    atomic.atomic_write_bytes(path, b'new', overwrite=True)
    assert path.read_bytes() == b'new' and os.listdir(tmp_path) == ['out.bin']
    with pytest.raises(ValueError, match='directory'):
        atomic.atomic_write_bytes(tmp_path, b'x', overwrite=True)


def test_a_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / 'out.bin'

    def fail(f):
        f.write(b'partial')
        raise RuntimeError('disk on fire')

    with pytest.raises(RuntimeError, match='disk on fire'):
        atomic.atomic_write(path, fail)
    assert os.listdir(tmp_path) == []


def test_a_file_appearing_while_writing_is_not_replaced(tmp_path):
    path = tmp_path / 'out.bin'

    def race(f):
        f.write(b'mine')
        path.write_bytes(b'theirs')  # another process creates the file meanwhile

    with pytest.raises(FileExistsError, match='already exists'):
        atomic.atomic_write(path, race)
    assert path.read_bytes() == b'theirs' and os.listdir(tmp_path) == ['out.bin']
