"""Tests of the evaluation report (command and API) and of the evaluation dataset loader."""

import json
import math
from pathlib import Path

import audiocraft
from audiocraft.models import builders
from matplotlib.image import imread
import numpy as np
from omegaconf import OmegaConf
import pytest
import torch

from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.data.audio_io import write_wav
from bandsplit_audiocraft.data.corpus import synth_clip
from bandsplit_audiocraft.data.manifest import build_manifest, write_manifest
from bandsplit_audiocraft.evaluation import report as rp
from bandsplit_audiocraft.evaluation.dataset import load_evaluation_set
from bandsplit_audiocraft.evaluation.metrics import resolve_metrics
from bandsplit_audiocraft.export import export_model
from tests.helpers import build_tiny

SR = 32000
ENCODEC_CFG = {
    'compression_model': 'encodec', 'device': 'cpu',
    'encodec': {'autoencoder': 'seanet', 'quantizer': 'rvq', 'sample_rate': SR, 'channels': 1,
                'causal': False, 'renormalize': False},
    'seanet': {'dimension': 16, 'channels': 1, 'n_filters': 4, 'lstm': 0, 'ratios': [8, 5, 4, 4],
               'encoder': {}, 'decoder': {}},
    'rvq': {'n_q': 2, 'bins': 64},
}


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory, tiny_model) -> dict:
    """A tiny band-split checkpoint and a stock audiocraft EnCodec exported the audiocraft way."""
    root = tmp_path_factory.mktemp('checkpoints')
    bandsplit = export_model(tiny_model, model_config(), root / 'bandsplit.th')
    torch.manual_seed(0)
    cfg = OmegaConf.create(ENCODEC_CFG)
    encodec = builders.get_compression_model(cfg).eval()
    with torch.no_grad():
        encodec(torch.randn(1, 1, SR) * 0.1)  # k-means initialisation of the codebooks
    path = root / 'encodec.th'
    torch.save({'best_state': encodec.state_dict(), 'xp.cfg': OmegaConf.to_yaml(cfg),
                'version': audiocraft.__version__, 'exported': True}, path)
    return {'bandsplit': bandsplit, 'encodec': path}


@pytest.fixture(scope='module')
def audio_dir(tmp_path_factory) -> Path:
    """Three synthetic clips of 0.3 s (mixture, drums, chirp) in a folder, and its manifest elsewhere."""
    root = tmp_path_factory.mktemp('audio')
    for index, kind in enumerate(['mixture', 'drums', 'chirp_linear']):
        clip = torch.from_numpy(synth_clip(kind, 0.3, SR, np.random.default_rng(index)))[None]
        write_wav(root / 'clips' / f'{index}_{kind}.wav', clip, SR)
    write_manifest(build_manifest(root / 'clips'), root / 'manifest' / 'data.jsonl.gz')
    return root


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, tree


def assert_finite_section(section: dict, clips: int) -> None:
    """Every per-clip list has one finite float per clip, every aggregate a finite mean inside its CI."""
    per_clip = section.get('per_clip', section.get('per_pair'))
    for path, values in leaves(per_clip):
        assert len(values) == clips, path
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), path
    for path, stats in leaves(section['aggregate'], ()):
        if path[-1] == 'n':
            assert stats == clips
        else:
            assert isinstance(stats, float) and math.isfinite(stats), path
    for path, _ in leaves(section['aggregate']):
        if path[-1] == 'mean':
            stats = section['aggregate']
            for key in path[:-1]:
                stats = stats[key]
            assert stats['ci_low'] - 1e-6 <= stats['mean'] <= stats['ci_high'] + 1e-6, path


def test_report_command_scores_band_split_and_encodec_side_by_side(checkpoints, audio_dir, tmp_path, capsys):
    out = tmp_path / 'report'
    status = rp.main(['--checkpoint', str(checkpoints['bandsplit']), '--checkpoint', str(checkpoints['encodec']),
                      '--name', 'bandsplit', '--name', 'encodec', '--data', str(audio_dir / 'clips'),
                      '--out', str(out), '--max-clips', '2', '--bootstrap-resamples', '500', '--baseline', 'encodec',
                      '-q'])
    assert status == 0
    assert 'report.md' in capsys.readouterr().out
    files = {str(p.relative_to(out)) for p in out.rglob('*') if p.is_file()}
    examples = {f'examples/bandsplit/token_editing/{name}.wav'
                for name in ('a', 'b', 'recon_a', 'recon_b', 'swapped', 'low_only', 'high_zeroed')}
    assert files == {'report.md', 'report.json', 'figures/bandsplit_clip0.png', 'figures/encodec_clip0.png',
                     *examples}  # no temporary files left behind

    report = json.loads((out / 'report.json').read_text())
    assert report['data']['num_clips'] == 2 and report['data']['kind'] == 'folder'
    assert [clip['name'] for clip in report['data']['clips']] == ['0_mixture', '1_drums']
    assert report['metrics'] == list(rp.DEFAULT_METRICS)
    assert '--max-clips 2' in report['command']
    bandsplit, encodec = report['models']['bandsplit'], report['models']['encodec']
    assert bandsplit['info']['band_split'] and not encodec['info']['band_split']
    assert encodec['info']['class'] == 'EncodecModel'

    # Both operating points for the band-split model, the 32 kHz one only for EnCodec.
    assert set(bandsplit['operating_points']) == {'16000', '32000'}
    assert set(encodec['operating_points']) == {'32000'}
    assert bandsplit['operating_points']['16000']['bandwidth_kbps'] == pytest.approx(2.0)
    assert bandsplit['operating_points']['32000']['bandwidth_kbps'] == pytest.approx(4.0)
    for model in (bandsplit, encodec):
        for point in model['operating_points'].values():
            assert set(point['per_clip']) == set(rp.DEFAULT_METRICS)
            assert_finite_section(point, 2)

    # Band-split-only sections: present and finite for the band-split model, not applicable for EnCodec.
    analysis = bandsplit['band_analysis']
    assert analysis['bands'] == ['0-8000', '8000-16000']
    assert set(analysis['per_clip']) == {'low', 'high', 'output', 'high_vs_input'}
    assert set(analysis['per_clip']['high']['sdr']) == {'0-8000', '8000-16000'}
    for section in (analysis, bandsplit['inpainting'], bandsplit['token_editing']):
        assert section['applicable']
        assert_finite_section(section, 2)
    assert set(bandsplit['inpainting']['per_clip']['systems']) == {'band_split', 'upsampled_low',
                                                                   'band_limited_input'}
    assert bandsplit['token_editing']['pairs'] == [[0, 1], [1, 0]]
    for key in ('band_analysis', 'inpainting', 'token_editing'):
        assert not encodec[key]['applicable'] and 'band-split' in encodec[key]['reason']
    # Energy shares of U(d16) and d32 add up to 1 in every band.
    shares = analysis['aggregate']
    for band in analysis['bands']:
        total = shares['low']['energy_share'][band]['mean'] + shares['high']['energy_share'][band]['mean']
        assert total == pytest.approx(1.0, abs=1e-4)

    # Paired per-clip differences against the baseline, at the operating point both models have.
    paired = report['paired']
    assert paired['baseline'] == 'encodec' and list(paired['differences']) == ['bandsplit']
    assert list(paired['differences']['bandsplit']) == ['32000']
    for metric, diff in paired['differences']['bandsplit']['32000'].items():
        own, base = (model['operating_points']['32000']['per_clip'][metric] for model in (bandsplit, encodec))
        assert diff['n'] == 2 and diff['mean'] == pytest.approx(np.mean(np.subtract(own, base)))
        assert diff['verdict'] in ('held', 'not held', 'inconclusive')

    markdown = (out / 'report.md').read_text()
    for text in ('# Codec evaluation report', '## Paired differences against encodec',
                 '## Models', '### 16 kHz output', '### 32 kHz output',
                 '## Band analysis', '## Toy inpainting', '## Band token editing', '## Spectrograms',
                 '## Definitions', '| metric | bandsplit | encodec |', 'n/a', report['command'],
                 '![bandsplit](figures/bandsplit_clip0.png)', 'encodec, inpainting:',
                 "DAC's `MelSpectrogramLoss()` with default settings",
                 "DAC's `MultiScaleSTFTLoss()` with default settings"):
        assert text in markdown, text
    image = imread(out / 'figures' / 'bandsplit_clip0.png')
    assert image.shape[:2] == (400, 1620)  # three spectrogram panels and a colour bar
    assert imread(out / 'figures' / 'encodec_clip0.png').shape[:2] == (400, 1120)  # input and output


@pytest.mark.filterwarnings('ignore::RuntimeWarning')
def test_make_report_api_on_a_manifest_with_segments(checkpoints, audio_dir, tmp_path):
    out = tmp_path / 'report'
    low_only = build_tiny('two_band', 'model=bandsplit/single_16k', 'sample_rate=16000')  # a 16 kHz-only model
    report = rp.make_report([checkpoints['bandsplit'], low_only], audio_dir / 'manifest', out, segment=0.15,
                            max_clips=3, figure_clip=1, metrics='mel_distance,si_sdr', speech=True,
                            names=['bandsplit', 'low16'], examples=False, progress=False, bootstrap_resamples=200)
    assert json.loads((out / 'report.json').read_text()) == report
    assert set(report['models']['low16']['operating_points']) == {'16000'}  # scored at 16 kHz only
    assert report['models']['low16']['info']['checkpoint'] == '<in-memory BandSplitCompressionModel>'
    assert not report['models']['low16']['token_editing']['applicable']
    data = report['data']
    assert data['kind'] == 'manifest' and data['manifest'].endswith('data.jsonl.gz')
    assert [clip['name'] for clip in data['clips']] == ['0_mixture@0s', '0_mixture@0.15s', '1_drums@0s']
    assert report['metrics'] == ['mel_distance', 'si_sdr', 'pesq', 'stoi']
    model = report['models']['bandsplit']
    assert model['figure'] == 'figures/bandsplit_clip1.png' and (out / model['figure']).is_file()
    assert not (out / 'examples').exists()
    # Speech metrics on 0.15 s of music may be undefined: null in the JSON, never NaN.
    for point in model['operating_points'].values():
        for name in ('mel_distance', 'si_sdr'):
            assert all(math.isfinite(v) for v in point['per_clip'][name])
        for name in ('pesq', 'stoi'):
            values = point['per_clip'][name]
            assert len(values) == 3 and all(v is None or math.isfinite(v) for v in values)
    assert 'PESQ (wideband)' in (out / 'report.md').read_text()


def test_report_argument_errors(checkpoints, audio_dir, tmp_path, capsys):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        rp.make_report([checkpoints['bandsplit']], empty, tmp_path / 'out', progress=False)
    with pytest.raises(ValueError, match="one --name per --checkpoint"):
        rp.make_report([checkpoints['bandsplit']], audio_dir / 'clips', tmp_path / 'out', names=['a', 'b'])
    with pytest.raises(ValueError, match="baseline 'nope' is not one of the models"):
        rp.make_report([checkpoints['bandsplit']], audio_dir / 'clips', tmp_path / 'out', baseline='nope')
    with pytest.raises(ValueError, match="Unknown metric"):
        rp.make_report([checkpoints['bandsplit']], audio_dir / 'clips', tmp_path / 'out', metrics='mel,nope')
    with pytest.raises(ValueError, match="out of range"):
        rp.make_report([checkpoints['bandsplit']], audio_dir / 'clips', tmp_path / 'out', max_clips=1,
                       figure_clip=1, progress=False)
    with pytest.raises(SystemExit) as error:
        rp.main(['--checkpoint', str(tmp_path / 'missing.th'), '--data', str(audio_dir / 'clips'),
                 '--out', str(tmp_path / 'out')])
    assert error.value.code == 2 and 'does not exist' in capsys.readouterr().err
    assert resolve_metrics('pesq_score, stft', speech=True) == ['pesq', 'stft_distance', 'stoi']
    assert rp.model_names(['a/x.th', 'b/x.th', 'y.th']) == ['x', 'x_2', 'y']


def test_evaluation_set_from_folders_and_manifests(audio_dir, tmp_path):
    folder = load_evaluation_set(audio_dir / 'clips', 16000, channels=2)
    assert folder.kind == 'folder' and len(folder) == 3 and folder.num_files == 3
    assert folder.clips[0].wav.shape == (2, 4800) and folder.clips[0].sample_rate == 16000
    manifest = load_evaluation_set(audio_dir / 'manifest' / 'data.jsonl.gz', SR, channels=1)
    assert manifest.kind == 'manifest' and [c.name for c in manifest.clips] == [c.name for c in folder.clips]
    split = load_evaluation_set(audio_dir / 'clips', SR, segment=0.14)
    assert len(split) == 6 and {c.wav.shape[-1] for c in split.clips} == {4480}  # 2 whole segments per file
    assert [c.offset for c in split.clips[:2]] == [0.0, 0.14]
    crop = load_evaluation_set(audio_dir / 'clips', SR, segment=0.14, segment_mode='crop', max_clips=2)
    assert len(crop) == 2 and crop.num_files == 2
    whole = load_evaluation_set(audio_dir / 'clips', SR, segment=10.0)
    assert [c.wav.shape[-1] for c in whole.clips] == [9600] * 3  # shorter than a segment: kept whole
    described = json.loads(json.dumps(split.describe()))
    assert described['num_clips'] == 6 and len(described['clips']) == 6

    (tmp_path / 'empty.jsonl').write_text('')
    with pytest.raises(ValueError, match="lists no audio files"):
        load_evaluation_set(tmp_path / 'empty.jsonl', SR)
    (tmp_path / 'missing.jsonl').write_text(json.dumps({'path': 'nowhere.wav'}) + '\n')
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_evaluation_set(tmp_path / 'missing.jsonl', SR)
    with pytest.raises(FileNotFoundError):
        load_evaluation_set(tmp_path / 'absent', SR)
    with pytest.raises(ValueError, match="segment mode"):
        load_evaluation_set(audio_dir / 'clips', SR, segment=0.14, segment_mode='random')
    with pytest.raises(ValueError, match="No evaluation clip"):
        load_evaluation_set(audio_dir / 'clips', SR, min_duration=1.0)
