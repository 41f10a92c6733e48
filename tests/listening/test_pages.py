"""Tests of the listening pages: files, loudness matching, anchors, trials and the per-listener order."""
import json
from pathlib import Path
import re

import numpy as np
import pyloudnorm
import pytest
import torch

from bandsplit_audiocraft.data.audio_io import read_audio
from bandsplit_audiocraft.listening.__main__ import main
from bandsplit_audiocraft.listening.anchors import lowpass, make_anchors
from bandsplit_audiocraft.listening.loudness import integrated_loudness, match_loudness
from bandsplit_audiocraft.listening.order import mulberry32, presentation_order, shuffle
from bandsplit_audiocraft.listening.pages import check_names
from bandsplit_audiocraft.listening.trials import build_trials
from tests.helpers import make_signal
from tests.listening.conftest import MODELS

TARGET = -23.0


def catalogue(pages_dir: Path) -> dict:
    return json.loads((pages_dir / 'pages.json').read_text())


def embedded_config(pages_dir: Path) -> dict:
    match = re.search(r'window\.MUSHRA_CONFIG = (.*?);</script>', (pages_dir / 'mushra.html').read_text())
    return json.loads(match.group(1))


def high_band_fraction(path: Path, cutoff_hz: float) -> float:
    """Fraction of the energy of an audio file above `cutoff_hz`."""
    wav, sr = read_audio(path)
    power = np.abs(np.fft.rfft(wav.double().numpy(), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(wav.shape[-1], 1 / sr)
    return float(power[..., freqs > cutoff_hz].sum() / power.sum())


def test_every_file_the_pages_use_exists(pages_dir):
    for page in ('index.html', 'mushra.html'):
        html = (pages_dir / page).read_text()
        links = re.findall(r'(?:src|href)="([^"#]+)"', html)
        assert links, page
        for link in links:
            assert not link.startswith(('http:', 'https:', '/')), (page, link)  # relative only: opens from disk
            assert (pages_dir / link).is_file(), (page, link)
    config = embedded_config(pages_dir)
    data = catalogue(pages_dir)
    assert config['test'] == data['test'] and config['trials'] == data['trials']
    for trial in config['trials']:
        assert (pages_dir / trial['reference']).is_file()
        for condition in trial['conditions']:
            assert (pages_dir / condition['audio']).is_file()
    # The demo shows every stimulus but the anchors, each with its spectrogram.
    demo = (pages_dir / 'index.html').read_text()
    for clip in data['clips']:
        for stimulus in clip['stimuli']:
            assert (stimulus['audio'] in demo) == (stimulus['kind'] != 'anchor'), stimulus['id']
            if stimulus['kind'] != 'anchor':
                assert (pages_dir / stimulus['spectrogram']).is_file()


def test_stimuli_and_trials(pages_dir, listening_clips):
    data = catalogue(pages_dir)
    assert [clip['name'] for clip in data['clips']] == sorted(p.stem for p in listening_clips.glob('*.wav'))
    anchors = ['anchor_3.5kHz', 'anchor_7kHz']
    for clip in data['clips']:
        ids = {s['id'] for s in clip['stimuli']}
        # The band-split model at 32 kHz and through its low branch at 16 kHz; the single-branch one at 32 kHz.
        assert ids == {'reference_32kHz', 'anchor_3.5kHz_32kHz', 'anchor_7kHz_32kHz', 'bandsplit_32kHz',
                       'single_32kHz', 'reference_16kHz', 'anchor_3.5kHz_16kHz', 'anchor_7kHz_16kHz',
                       'bandsplit_16kHz'}
        for stimulus in clip['stimuli']:
            wav, sr = read_audio(pages_dir / stimulus['audio'])
            assert sr == stimulus['sample_rate'] and wav.shape[-1] == sr  # one-second clips at every rate
            assert bool(stimulus['metrics']) == (stimulus['kind'] == 'model')
            if stimulus['metrics']:
                assert set(stimulus['metrics']) == {'si_sdr', 'waveform_l1'}
    trials = data['trials']
    assert [(t['clip'], t['sample_rate']) for t in trials] == [
        (clip['name'], rate) for clip in data['clips'] for rate in (32000, 16000)]
    for trial in trials:
        names = [c['name'] for c in trial['conditions']]
        models = list(MODELS) if trial['sample_rate'] == 32000 else ['bandsplit']
        assert sorted(names) == sorted(['reference', *anchors, *models])
        assert trial['reference'] == next(c['audio'] for c in trial['conditions'] if c['name'] == 'reference')
    assert set(data['models']) == set(MODELS)


def test_stimuli_are_loudness_matched(pages_dir):
    """Every WAV file is within 0.5 LU of the target, measured by pyloudnorm on the file as written."""
    data = catalogue(pages_dir)
    assert data['loudness_lufs'] == TARGET
    gains = []
    for clip in data['clips']:
        for stimulus in clip['stimuli']:
            wav, sr = read_audio(pages_dir / stimulus['audio'])
            loudness = pyloudnorm.Meter(sr).integrated_loudness(wav.double().numpy().T)
            assert abs(loudness - TARGET) < 0.5, (stimulus['id'], loudness)
            gains.append(stimulus['gain_db'])
    assert max(gains) - min(gains) > 1  # the sources differ in loudness: the matching did something


def test_anchors_are_low_passed(pages_dir):
    data = catalogue(pages_dir)
    for clip in data['clips']:
        files = {s['id']: pages_dir / s['audio'] for s in clip['stimuli']}
        for rate in (32, 16):
            reference = files[f'reference_{rate}kHz']
            for cutoff in (3500, 7000):
                removed = high_band_fraction(reference, cutoff)
                assert removed > 1e-3  # there is something to remove
                anchor = files[f'anchor_{cutoff / 1000:g}kHz_{rate}kHz']
                assert high_band_fraction(anchor, cutoff * 1.1) < 1e-3 * removed  # past the transition band


def test_lowpass_keeps_the_pass_band():
    noise = torch.randn(1, 32000, generator=torch.Generator().manual_seed(0))
    low = lowpass(noise, 32000, 3500)
    spectrum = np.abs(np.fft.rfft(noise.numpy())) ** 2
    filtered = np.abs(np.fft.rfft(low.numpy())) ** 2
    freqs = np.fft.rfftfreq(32000, 1 / 32000)
    passband = freqs < 3000
    assert filtered[..., passband].sum() / spectrum[..., passband].sum() == pytest.approx(1, abs=0.01)
    assert filtered[..., freqs > 3850].sum() / spectrum[..., freqs > 3850].sum() < 1e-4
    assert list(make_anchors(noise, 32000)) == ['anchor_3.5kHz', 'anchor_7kHz']
    with pytest.raises(ValueError, match='sample rate'):
        lowpass(noise, 12000, 7000)


def test_match_loudness():
    wav = make_signal(1.0)
    for target in (-30.0, -16.0):
        scaled, gain_db, before = match_loudness(wav, 32000, target)
        assert integrated_loudness(scaled, 32000) == pytest.approx(target, abs=0.01)
        assert gain_db == pytest.approx(target - before)
    silent, gain_db, _ = match_loudness(torch.zeros(1, 32000), 32000)
    assert gain_db is None and not silent.any()
    with pytest.raises(ValueError, match='too short'):
        integrated_loudness(wav[:, :3200], 32000)


def test_presentation_order_per_listener():
    trials = [{'id': f't{i}', 'conditions': [{'name': n} for n in 'abcdef']} for i in range(5)]
    first = presentation_order('test', 'alice', trials)
    assert first == presentation_order('test', 'alice', trials)
    assert sorted(t for t, _ in first) == [f't{i}' for i in range(5)]
    assert all(sorted(order) == list('abcdef') for _, order in first)
    others = [presentation_order('test', name, trials) for name in ('bob', 'carol', 'dave')]
    assert any(order != first for order in others)
    assert len({tuple(order) for _, order in first}) > 1  # each trial gets its own order
    draws = [mulberry32(1)() for _ in range(2)]
    assert draws[0] == draws[1] and 0 <= draws[0] < 1
    assert sorted(shuffle(range(10), mulberry32(7))) == list(range(10))


def test_model_names_cannot_be_conditions():
    check_names(['bandsplit', 'dac'])
    for name in ('reference', 'anchor_7kHz'):
        with pytest.raises(ValueError, match='cannot be named'):
            check_names([name])


def test_trials_at_chosen_rates(pages_dir):
    clips = catalogue(pages_dir)['clips']
    low = build_trials(clips, rates=[16000])
    assert [t['sample_rate'] for t in low] == [16000] * len(clips)
    assert all('single' not in {c['name'] for c in t['conditions']} for t in low)
    with pytest.raises(ValueError, match='No MUSHRA trial'):
        build_trials(clips, rates=[48000])


def test_pages_command_refuses_reserved_names(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(['pages', '--checkpoint', str(tmp_path / 'a.th'), '--name', 'reference', '--data', str(tmp_path),
              '--out', str(tmp_path / 'out')])
    assert exit_info.value.code == 2 and not (tmp_path / 'out').exists()
