"""Tests of bandsplit_audiocraft.data.audio_io: atomic WAV writing and reading with conversion."""
import logging
import math

import numpy as np
import pytest
import soundfile
import torch

from bandsplit_audiocraft.data.audio_io import convert_channels, read_audio, write_wav
from tests.helpers import write_m4a


def _sine(freq: float = 440.0, seconds: float = 0.5, sr: int = 32000, channels: int = 1) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    return 0.5 * torch.sin(2 * math.pi * freq * t).expand(channels, -1).clone()


def test_write_then_read_round_trip(tmp_path):
    wav = _sine(channels=2)
    path = write_wav(tmp_path / 'a' / 'b' / 'x.wav', wav, 32000)
    assert path.exists()
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (32000, 2, 'PCM_16')
    back, sr = read_audio(path)
    assert sr == 32000 and back.dtype == torch.float32 and back.shape == wav.shape
    assert (back - wav).abs().max() < 2 / 2 ** 15
    assert [p.name for p in path.parent.iterdir()] == ['x.wav']  # no temporary file left behind


def test_write_mono_1d_and_float_subtype(tmp_path):
    wav = _sine()[0] * 3  # beyond [-1, 1]: kept as is in float WAV
    path = write_wav(tmp_path / 'f.wav', wav, 16000, subtype='FLOAT')
    back, sr = read_audio(path)
    assert sr == 16000 and back.shape == (1, wav.shape[0])
    assert torch.equal(back[0], wav)


def test_write_accepts_graph_and_half_tensors(tmp_path):
    wav = _sine().requires_grad_() * 1.0
    path = write_wav(tmp_path / 'g.wav', wav.to(torch.bfloat16), 32000)
    back, _ = read_audio(path)
    assert (back - wav.detach()).abs().max() < 5e-3


def test_no_overwrite_unless_asked(tmp_path):
    path = write_wav(tmp_path / 'x.wav', _sine(), 32000)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match='already exists'):
        write_wav(path, -_sine(), 32000)
    assert path.read_bytes() == before
    write_wav(path, -_sine(), 32000, overwrite=True)
    assert path.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['x.wav']


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match='NaN'):
        write_wav(tmp_path / 'x.wav', torch.tensor([[0.0, float('nan')]]), 32000)
    assert list(tmp_path.iterdir()) == []


def test_pcm_clipping_warns(tmp_path, caplog):
    wav = torch.tensor([[0.0, 1.5, -2.0, 0.5]])
    with caplog.at_level(logging.WARNING):
        path = write_wav(tmp_path / 'c.wav', wav, 32000)
    assert 'Clipping 2 samples' in caplog.text
    back, _ = read_audio(path)
    assert back.abs().max() <= 1.0 and back[0, 2] == -1.0


@pytest.mark.parametrize('bad, match', [
    (torch.zeros(1, 0), 'empty'),
    (torch.zeros(2, 2, 10), 'shape'),
    (torch.zeros(32000, 2), r'\[T, C\]'),
    (torch.zeros(1, 10, dtype=torch.int16), 'floating point'),
])
def test_write_rejects_bad_audio(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        write_wav(tmp_path / 'x.wav', bad, 32000)


def test_write_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='sample rate'):
        write_wav(tmp_path / 'x.wav', _sine(), 0)
    with pytest.raises(ValueError, match='subtype'):
        write_wav(tmp_path / 'x.wav', _sine(), 32000, subtype='MP3')
    with pytest.raises(ValueError, match='.wav'):
        write_wav(tmp_path / 'x.flac', _sine(), 32000)


def test_resampling_and_channels(tmp_path):
    stereo = torch.stack([_sine(440.0, sr=48000)[0], torch.zeros(24000)])
    path = write_wav(tmp_path / 's.wav', stereo, 48000)
    mono, sr = read_audio(path, sample_rate=32000, channels=1)
    assert sr == 32000 and mono.shape == (1, 16000)
    expected = _sine(440.0, sr=32000)[0] / 2
    assert (mono[0, 500:-500] - expected[500:-500]).abs().max() < 5e-3
    doubled, _ = read_audio(write_wav(tmp_path / 'm.wav', _sine(), 32000), channels=2)
    assert doubled.shape == (2, 16000) and torch.equal(doubled[0], doubled[1])
    with pytest.raises(ValueError, match='Cannot convert 2 channels to 3'):
        convert_channels(stereo, 3)


def test_flac_is_read(tmp_path):
    data = np.random.default_rng(0).uniform(-0.5, 0.5, size=(3200, 2)).astype(np.float32)
    soundfile.write(str(tmp_path / 'x.flac'), data, 32000)
    wav, sr = read_audio(tmp_path / 'x.flac')
    assert sr == 32000 and wav.shape == (2, 3200)
    assert np.abs(wav.numpy().T - data).max() < 2 / 2 ** 15


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        read_audio(tmp_path / 'missing.wav')
    (tmp_path / 'empty.wav').write_bytes(b'')
    with pytest.raises(ValueError, match='empty'):
        read_audio(tmp_path / 'empty.wav')
    (tmp_path / 'corrupt.wav').write_bytes(b'RIFF\x00\x01garbage' * 50)
    with pytest.raises(ValueError, match='corrupt'):
        read_audio(tmp_path / 'corrupt.wav')
    with pytest.raises(ValueError, match='directory'):
        read_audio(tmp_path)


def test_pyav_fallback_reads_m4a(tmp_path):
    write_m4a(tmp_path / 'x.m4a', _sine(seconds=1.0)[0].numpy(), 32000)
    wav, sr = read_audio(tmp_path / 'x.m4a', sample_rate=16000, channels=2)
    assert sr == 16000 and wav.shape[0] == 2 and torch.equal(wav[0], wav[1])
    assert abs(wav.shape[1] - 16000) < 1600  # the AAC encoder adds some priming samples
    rms = wav[0, 4000:12000].pow(2).mean().sqrt()
    assert abs(rms - 0.5 / math.sqrt(2)) < 0.05  # lossy, but the sine is there
