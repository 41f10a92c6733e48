"""Tests of the embedded corpus: band content of every kind, determinism, idempotence, audiocraft loading."""
import json
import os

import numpy as np
import pytest
import soundfile
import torch

from bandsplit_audiocraft.data.corpus import SPLITS, generate_corpus
from bandsplit_audiocraft.data.synthesis import KINDS, MUSIC_KINDS, demo_signal, high_band_fraction, synth_clip

SMALL = dict(num_train=8, num_valid=2, num_evaluate=2, num_generate=1, duration=1.0)


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp('corpus')
    return generate_corpus(root, seed=0, **SMALL)


def _fingerprint(root):
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob('*'))
            if p.is_file() and not p.name.startswith('.')}


@pytest.mark.parametrize('kind', KINDS)
def test_every_kind_fills_both_bands(kind):
    for seed, duration, sr in [(0, 1.0, 32000), (1, 1.0, 32000), (2, 0.1, 32000), (3, 0.5, 48000)]:
        clip = synth_clip(kind, duration, sr, np.random.default_rng(seed))
        assert clip.shape == (round(duration * sr),) and clip.dtype == np.float32
        assert np.all(np.isfinite(clip))
        fraction = high_band_fraction(clip, sr)
        assert 0.01 < fraction < 0.99, (kind, seed, fraction)
        peak_db = 20 * np.log10(np.abs(clip).max())
        assert -3.01 <= peak_db <= -0.99, (kind, seed, peak_db)


def test_synth_clip_is_deterministic_and_varied():
    a = synth_clip('pluck', 0.5, 32000, np.random.default_rng(1))
    b = synth_clip('pluck', 0.5, 32000, np.random.default_rng(1))
    c = synth_clip('pluck', 0.5, 32000, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_synth_clip_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='Unknown clip kind'):
        synth_clip('violin', 1.0, 32000, rng)
    with pytest.raises(ValueError, match='at least 32000'):
        synth_clip('pluck', 1.0, 16000, rng)
    with pytest.raises(ValueError, match='duration'):
        synth_clip('pluck', 0.0, 32000, rng)


def test_demo_signal():
    demo = demo_signal()
    assert demo.shape == (1, 64000) and demo.dtype == torch.float32
    assert torch.equal(demo, demo_signal())
    assert 0.01 < high_band_fraction(demo, 32000) < 0.99


def test_corpus_layout(corpus):
    root = corpus['root']
    assert corpus['generated'] and set(corpus['splits']) == set(SPLITS)
    record = json.loads(open(os.path.join(root, 'corpus.json')).read())
    assert record['content_sha256'] == corpus['content_sha256']
    for split, count in zip(SPLITS, (8, 2, 2, 1)):
        info = corpus['splits'][split]
        assert len(info['files']) == count
        assert info['kinds'] == [MUSIC_KINDS[i % len(MUSIC_KINDS)] for i in range(count)]
        for name in info['files']:
            data, sr = soundfile.read(os.path.join(info['path'], name))
            assert sr == 32000 and data.shape == (32000,) and 0.7 < np.abs(data).max() < 0.9
    assert not [p for p in os.listdir(root) if p.startswith('.staging')]


def test_corpus_is_idempotent(corpus):
    from pathlib import Path

    root = Path(corpus['root'])
    before = _fingerprint(root)
    again = generate_corpus(root, seed=0, **SMALL)
    assert not again['generated'] and again['content_sha256'] == corpus['content_sha256']
    assert _fingerprint(root) == before  # nothing rewritten: same bytes and same mtimes


def test_corpus_is_deterministic_and_splits_differ(corpus, tmp_path):
    other = generate_corpus(tmp_path, seed=0, **SMALL)
    assert other['content_sha256'] == corpus['content_sha256']
    for split in SPLITS:
        for name in other['splits'][split]['files']:
            with open(os.path.join(corpus['splits'][split]['path'], name), 'rb') as a, \
                    open(os.path.join(other['splits'][split]['path'], name), 'rb') as b:
                assert a.read() == b.read()
    # Clip i has the same kind in every split but different content.
    first = [soundfile.read(os.path.join(corpus['splits'][split]['path'], '0000_mixture.wav'))[0] for split in SPLITS]
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            assert not np.allclose(first[i], first[j])


def test_corpus_regenerates_when_incomplete_or_changed(tmp_path):
    params = dict(num_train=2, num_valid=1, num_evaluate=1, num_generate=1, duration=0.5)
    first = generate_corpus(tmp_path, seed=0, **params)
    # A truncated clip (e.g. a disk problem) breaks the content hash: the corpus is regenerated.
    clip = tmp_path / 'train' / '0001_melody.wav'
    clip.write_bytes(clip.read_bytes()[:100])
    repaired = generate_corpus(tmp_path, seed=0, **params)
    assert repaired['generated'] and repaired['content_sha256'] == first['content_sha256']
    # A generation killed before its end leaves no corpus.json: the next call generates again.
    (tmp_path / 'corpus.json').unlink()
    assert generate_corpus(tmp_path, seed=0, **params)['generated']
    # Other parameters give another corpus, and clips of a removed split count go away.
    changed = generate_corpus(tmp_path, seed=1, **{**params, 'num_train': 1})
    assert changed['generated'] and changed['content_sha256'] != first['content_sha256']
    assert sorted(p.name for p in (tmp_path / 'train').iterdir()) == ['0000_mixture.wav', 'data.jsonl']


def test_corpus_refuses_foreign_files(tmp_path):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / 'my_song.flac').write_bytes(b'x')
    with pytest.raises(ValueError, match='my_song.flac'):
        generate_corpus(tmp_path, num_train=1, num_valid=1, num_evaluate=1, num_generate=1, duration=0.5)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_train=0), 'num_train'),
    (dict(sample_rate=16000), 'sample rate'),
    (dict(duration=0.01), 'duration'),
    (dict(seed=-1), 'seed'),
])
def test_corpus_rejects_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_corpus(tmp_path, **kwargs)


def test_manifests_load_in_audiocraft(corpus):
    from audiocraft.data.audio_dataset import AudioDataset, load_audio_meta

    for split in SPLITS:
        meta = load_audio_meta(corpus['splits'][split]['manifest'])
        assert [os.path.basename(m.path) for m in meta] == corpus['splits'][split]['files']
        assert all(m.duration == 1.0 and m.sample_rate == 32000 for m in meta)
    dataset = AudioDataset.from_meta(corpus['splits']['train']['path'], segment_duration=1.0, sample_rate=32000,
                                     channels=1, num_samples=4, shuffle=False)
    for index in range(len(dataset)):
        segment = dataset[index]
        assert segment.shape == (1, 32000) and segment.abs().max() > 0.1
