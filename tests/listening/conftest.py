"""Fixtures of the listening tests: two tiny exported checkpoints (band-split and single-branch), two short
synthetic clips, and the pages made from them by the real command."""
from pathlib import Path

import numpy as np
import pytest
import torch

from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.data.audio_io import write_wav
from bandsplit_audiocraft.data.corpus import synth_clip
from bandsplit_audiocraft.export import export_model
from bandsplit_audiocraft.listening.__main__ import main
from tests.helpers import MODEL_PRESETS, build_tiny

SR = 32000
CLIP_SECONDS = 1.0
MODELS = ('bandsplit', 'single')
METRICS = 'si_sdr,waveform_l1'  # the fast ones: the pages show any metric the same way


@pytest.fixture(scope='session')
def listening_checkpoints(tmp_path_factory, tiny_model) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('listening_checkpoints')
    single = build_tiny('single', seed=1)
    with torch.no_grad():
        single(torch.randn(2, 1, SR) * 0.1)  # k-means initialisation of the codebooks
    return {'bandsplit': export_model(tiny_model, model_config(), root / 'bandsplit.th'),
            'single': export_model(single, model_config(MODEL_PRESETS['single']), root / 'single.th')}


@pytest.fixture(scope='session')
def listening_clips(tmp_path_factory) -> Path:
    """Two synthetic clips of one second (mixture, drums) with content below 3.5 kHz and above 8 kHz."""
    root = tmp_path_factory.mktemp('listening_clips')
    for index, kind in enumerate(['mixture', 'drums']):
        clip = torch.from_numpy(synth_clip(kind, CLIP_SECONDS, SR, np.random.default_rng(index)))[None]
        write_wav(root / f'{index}_{kind}.wav', clip, SR)
    return root


@pytest.fixture(scope='session')
def pages_dir(tmp_path_factory, listening_checkpoints, listening_clips) -> Path:
    """The pages written by `python -m bandsplit_audiocraft.listening pages` (called in-process)."""
    out = tmp_path_factory.mktemp('pages') / 'listening'
    argv = ['pages', '--data', str(listening_clips), '--out', str(out), '--metrics', METRICS, '--quiet']
    for name in MODELS:
        argv += ['--checkpoint', str(listening_checkpoints[name]), '--name', name]
    assert main(argv) == 0
    return out
