"""audiocraft's own MusicGenSolver on band-split tokens: `dora run solver=musicgen/bandsplit_lm_tiny` with a
band-split export as `compression_model_checkpoint` trains a language model on the embedded corpus, on all
codebooks and on the low band's alone, and its generate stage writes audio."""
import json
from pathlib import Path
import typing as tp

import pytest

from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.data.audio_io import read_audio
from bandsplit_audiocraft.data.synthesis import high_band_fraction
from bandsplit_audiocraft.export import export_model
from tests.helpers import dora_run, finish, train_together

pytestmark = pytest.mark.slow

# The 16 kHz language model: the low branch's 4 codebooks, on the same checkpoint.
LOW_BAND = ['compression_model_n_q=4', 'transformer_lm.n_q=4', 'codebooks_pattern.delay.delays=[0,1,2,3]']


@pytest.fixture(scope='module')
def exported(tmp_path_factory, tiny_model) -> Path:
    return export_model(tiny_model, model_config(), tmp_path_factory.mktemp('codec') / 'codec.th')


BANDS = {'all_bands': [], 'low_band': LOW_BAND}


def overrides_of(band: str, exported: Path, corpus_dir: Path) -> tp.List[str]:
    return ['solver=musicgen/bandsplit_lm_tiny', f'compression_model_checkpoint=//pretrained/{exported}',
            f'corpus_dir={corpus_dir}', *BANDS[band]]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, corpus_dir, exported) -> tp.Tuple[Path, tp.Dict[str, Path]]:
    """Both language models' runs at once: their dora folder, and their experiment folders by band."""
    dora_dir = tmp_path_factory.mktemp('dora')
    return dora_dir, train_together(dora_dir, {band: overrides_of(band, exported, corpus_dir) for band in BANDS})


@pytest.mark.parametrize('band', list(BANDS))
def test_musicgen_solver_trains_and_generates(band, trained, exported, corpus_dir):
    dora_dir, xps = trained
    xp = xps[band]
    if band == 'all_bands':
        # The same command again restores the finished run from its checkpoint (config and history unpickled,
        # which torch >= 2.6 refuses by default) and has nothing left to train: it exits 0 and the history stays.
        finish(dora_run(dora_dir, overrides_of(band, exported, corpus_dir)), timeout=600)
    history = json.loads((xp / 'history.json').read_text())
    ce = [epoch['train']['ce'] for epoch in history]
    print('train cross-entropy per epoch:', ce)
    assert len(ce) == 3 and ce[-1] < ce[0]
    assert history[-1]['evaluate']['ce'] < history[0]['valid']['ce']
    # samples/<epoch>/ holds the generated audio (unprompted, and continuations of the prompts in samples/prompt/)
    samples = sorted((xp / 'samples' / str(len(history))).glob('*.wav'))
    assert len(samples) == 4, samples  # 2 clips of the generate split, each unprompted and prompted
    for path in samples:
        wav, sample_rate = read_audio(path)
        assert sample_rate == 32000 and wav.shape[-1] > 0 and wav.abs().max() > 0
        if BANDS[band]:  # low-band tokens decode to audio with (almost) nothing above 8 kHz
            assert high_band_fraction(wav, sample_rate) < 0.01
