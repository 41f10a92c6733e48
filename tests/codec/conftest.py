"""Fixtures of the codec tests: tiny exported checkpoints and the slow subprocesses.

The codec tests run on one torch thread (`one_thread`). The two subprocess checks (`python -m
bandsplit_audiocraft.codec --help` and the peak memory probe) are slow to start (they import audiocraft): they are
started in the background as soon as the first codec test runs (only when the tests that read them are
selected) and run while the in-process tests do; those tests then wait for them.
"""
import os
from pathlib import Path
import sys
import typing as tp

import pytest
import torch

from bandsplit_audiocraft.codec.model_io import Codec, load_codec
from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.export import export_model
from tests.helpers import BACKGROUND_RUNS, Started

REPO = Path(__file__).resolve().parents[2]


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


class Background(Started):
    """The background runs, started with one thread each and without warnings, their files in `folder`."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def start(self, name: str, args: tp.Sequence[str]) -> None:  # type: ignore[override]
        env = {**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': '1'}
        super().start(name, [sys.executable, *args], env=env)


@pytest.fixture(scope='session', autouse=True)
def background(request, tmp_path_factory) -> tp.Iterator[Background]:
    runs = Background(tmp_path_factory.mktemp('background'))
    selected = {getattr(item, 'originalname', item.name) for item in request.session.items}
    for name, (test, make_args) in BACKGROUND_RUNS.items():
        if test in selected:
            runs.start(name, make_args(runs.folder))
    yield runs
    runs.stop()
