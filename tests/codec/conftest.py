"""Fixtures of the codec tests: tiny exported checkpoints, one torch thread.

The two subprocess checks (`python -m bandsplit_audiocraft.codec --help` and the peak memory probe) are slow to
start (they import audiocraft): they are background runs (`tests.background`), started with the
session and read by their tests.
"""
from pathlib import Path
import typing as tp

import pytest
import torch

from bandsplit_audiocraft.codec.model_io import Codec, load_codec
from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.export import export_model


@pytest.fixture(scope='package', autouse=True)
def one_thread() -> tp.Iterator[None]:
    """Run the codec tests on one torch thread (restored after them).

    The tiny model's tensors are too small to gain from more; on a busy machine (or beside the background
    subprocesses) OpenMP threads waiting for one another make every forward pass several times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def tiny_checkpoint(tiny_model, tmp_path_factory) -> Path:
    """The session's tiny two-band model (codebooks initialised), exported."""
    return export_model(tiny_model, model_config(), tmp_path_factory.mktemp('checkpoints') / 'tiny.th')


@pytest.fixture(scope='session')
def other_checkpoint(tiny_checkpoint) -> Path:
    """Same architecture, slightly different weights: another model identity."""
    package = torch.load(tiny_checkpoint, map_location='cpu', weights_only=True)
    name = next(k for k, v in package['best_state'].items() if v.is_floating_point() and v.numel() > 1)
    package['best_state'][name] = package['best_state'][name] * 1.01
    path = tiny_checkpoint.with_name('other.th')
    torch.save(package, path)
    return path


@pytest.fixture(scope='session')
def codec(tiny_checkpoint) -> Codec:
    """The tiny checkpoint loaded the way the command line loads it."""
    return load_codec(tiny_checkpoint, 'cpu')
