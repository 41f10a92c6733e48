"""Tests of the per-clip metrics and their registry."""

import math

import numpy as np
import pytest
import scipy.signal
import torch
import torchaudio

from bandsplit_audiocraft.evaluation import metrics, perceptual
from bandsplit_audiocraft.evaluation.band_analysis import band_filter

SR = 32000


def music_like(batch: int = 2, seconds: float = 1.0, sample_rate: int = SR, seed: int = 0) -> torch.Tensor:
    """Broadband test audio `[B, 1, T]`: decaying harmonic notes over soft noise, up to the Nyquist band."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    clips = []
    for _ in range(batch):
        f0 = 110 * 2 ** (torch.randint(0, 24, (1,), generator=gen).item() / 12)
        notes = sum(torch.sin(2 * math.pi * k * f0 * t + k) / k for k in range(1, 40) if k * f0 < sample_rate / 2)
        envelope = torch.exp(-3 * (t % 0.5))
        noise = 0.05 * torch.randn(t.shape, generator=gen, dtype=torch.float64)
        clips.append(0.3 * notes * envelope / notes.abs().max() + noise)
    return torch.stack(clips)[:, None].float()


def speech_like(seconds: float = 2.0, sample_rate: int = 16000) -> torch.Tensor:
    """A vowel-like signal `[1, 1, T]`: glottal-like harmonics with a gliding f0 through three formant
    resonators, amplitude modulated into syllables separated by silences."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    source = sum(np.sin(k * phase) / k for k in range(1, 40) if k * 140 < sample_rate / 2)

    def formant(x: np.ndarray, center: float, bandwidth: float) -> np.ndarray:
        r = np.exp(-np.pi * bandwidth / sample_rate)
        theta = 2 * np.pi * center / sample_rate
        return scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)

    vowel = formant(source, 700, 130) + 0.5 * formant(source, 1200, 70) + 0.2 * formant(source, 2600, 160)
    syllables = np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None) ** 0.5
    x = 0.3 * vowel * syllables / np.abs(vowel).max()
    return torch.from_numpy(x).float()[None, None]


def add_noise(x: torch.Tensor, snr_db: float, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen)
    scale = (x.pow(2).sum(-1, keepdim=True) / noise.pow(2).sum(-1, keepdim=True) / 10 ** (snr_db / 10)).sqrt()
    return x + scale * noise


# ------------------------------------------------------------------------------------------------------
# Spectral and time-domain distances
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('sample_rate', [32000, 16000])
def test_identical_signals_have_zero_distances(sample_rate):
    ref = music_like(sample_rate=sample_rate)
    for fn in (metrics.mel_distance, metrics.stft_distance, metrics.waveform_l1):
        value = fn(ref.clone(), ref, sample_rate)
        assert value.shape == (2,)
        assert torch.equal(value, torch.zeros(2)), fn.__name__


def test_distances_grow_with_distortion():
    ref = music_like()
    mild, strong = add_noise(ref, 30), add_noise(ref, 0)
    for fn in (metrics.mel_distance, metrics.stft_distance, metrics.waveform_l1):
        d_mild, d_strong = fn(mild, ref, SR), fn(strong, ref, SR)
        assert (d_mild > 0).all() and (d_strong > d_mild).all(), fn.__name__


def dac_loss_per_clip(loss: torch.nn.Module, est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """DAC's loss evaluated on each clip alone (the loss itself averages over the batch)."""
    from audiotools import AudioSignal

    with torch.no_grad():
        return torch.stack([loss(AudioSignal(est[i:i + 1], sample_rate), AudioSignal(ref[i:i + 1], sample_rate))
                            for i in range(est.shape[0])])


@pytest.mark.parametrize('sample_rate', [32000, 16000])
@pytest.mark.parametrize('kind', ['random', 'music'])
def test_spectral_distances_match_dac_losses_with_default_settings(sample_rate, kind):
    from dac.nn.loss import MelSpectrogramLoss, MultiScaleSTFTLoss

    gen = torch.Generator().manual_seed(7)
    if kind == 'random':
        ref = torch.randn(4, 2, sample_rate, generator=gen)
        est = torch.randn(4, 2, sample_rate, generator=gen)
    else:
        ref = music_like(batch=4, sample_rate=sample_rate)
        est = add_noise(ref, 10) * torch.tensor([1.0, 0.5, 0.9, 1.2])[:, None, None]
    # Relative tolerance: the magnitude terms scale with the signal level (unnormalised STFT), so an absolute
    # bound would not mean the same at every level; 1e-5 is a few dozen float32 ulps, room for a different
    # summation order, and far below any difference between spectral conventions.
    for fn, loss in ((metrics.mel_distance, MelSpectrogramLoss()), (metrics.stft_distance, MultiScaleSTFTLoss())):
        value = fn(est.clone().requires_grad_(), ref, sample_rate)
        assert value.dtype == torch.float32 and not value.requires_grad
        torch.testing.assert_close(value, dac_loss_per_clip(loss, est, ref, sample_rate), rtol=1e-5, atol=0)


def test_mel_distance_of_a_scaled_copy_matches_its_definition():
    # With no clamping involved, a copy scaled by g has a log-power term of exactly |log10(g^2)| per mel bin
    # and a magnitude term of (1 - g) times the mean mel magnitude; the mel spectrogram is computed here with
    # torchaudio (Slaney scale and normalisation, magnitudes), independently of audiotools.
    ref = music_like(batch=1)
    est = 0.5 * ref
    mel = torchaudio.transforms.MelSpectrogram(SR, n_fft=512, hop_length=128, n_mels=80, power=1.0, norm='slaney',
                                               mel_scale='slaney')(ref[:, 0])
    assert 0.5 * mel.min() > 1e-5
    expected = math.log10(4) + 0.5 * mel.mean()
    value = metrics.mel_distance(est, ref, SR, window_lengths=(512,), n_mels=(80,))
    torch.testing.assert_close(value, expected.reshape(1).float(), rtol=1e-4, atol=1e-4)


def test_mel_distance_scales_are_parameters():
    ref = music_like(batch=1)
    est = add_noise(ref, 10)
    both = metrics.mel_distance(est, ref, SR)
    large = metrics.mel_distance(est, ref, SR, window_lengths=(2048,), n_mels=(150,))
    small = metrics.mel_distance(est, ref, SR, window_lengths=(512,), n_mels=(80,))
    torch.testing.assert_close(both, large + small)
    with pytest.raises(ValueError, match='window lengths'):
        metrics.mel_distance(est, ref, SR, window_lengths=(2048, 512), n_mels=(150,))


def test_stft_distance_of_a_scaled_copy_matches_its_definition():
    # With no clamping involved, the log-power term of a copy scaled by g is exactly |log10(g^2)| per bin.
    ref = music_like(batch=1)
    est = 0.5 * ref
    window = torch.hann_window(512)
    mag = torch.stft(ref[:, 0], 512, 128, window=window, return_complex=True).abs()
    assert 0.5 * mag.min() > 1e-5
    expected = math.log10(4) + (0.5 * mag).mean()
    value = metrics.stft_distance(est, ref, SR, window_lengths=(512,))
    torch.testing.assert_close(value, expected.reshape(1).float(), rtol=1e-4, atol=1e-4)


def test_si_sdr_of_a_scaled_copy_is_very_high():
    ref = music_like()
    assert (metrics.si_sdr(0.3 * ref, ref, SR) > 60).all()
    assert (metrics.si_sdr(ref, ref, SR) > 60).all()
    assert torch.isfinite(metrics.si_sdr(ref, ref, SR)).all()


def test_si_sdr_matches_a_known_snr():
    ref = music_like().double()
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    centered = ref - ref.mean(-1, keepdim=True)
    noise = noise - noise.mean(-1, keepdim=True)
    noise = noise - (noise * centered).sum(-1, keepdim=True) / centered.pow(2).sum(-1, keepdim=True) * centered
    noise = noise * (centered.pow(2).sum(-1, keepdim=True) / noise.pow(2).sum(-1, keepdim=True) / 10).sqrt()
    value = metrics.si_sdr(ref + noise + 0.25, ref, SR)  # An offset changes nothing: means are removed.
    torch.testing.assert_close(value, torch.full((2,), 10.0), atol=0.01, rtol=0)


def test_sdr_of_a_half_scaled_copy():
    ref = music_like()
    torch.testing.assert_close(metrics.sdr(0.5 * ref, ref, SR), torch.full((2,), 20 * math.log10(2)),
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(metrics.sdr(torch.zeros_like(ref), ref, SR), torch.zeros(2), atol=1e-6, rtol=0)
    assert (metrics.sdr(ref, ref, SR) > 60).all()


def test_channels_are_averaged():
    ref = music_like(batch=1).repeat(1, 2, 1)
    est = ref.clone()
    est[:, 1] *= 0.5  # channel 0: exact (eps-limited), channel 1: 6.02 dB
    per_channel = [metrics.sdr(est[:, c:c + 1], ref[:, c:c + 1], SR) for c in range(2)]
    torch.testing.assert_close(metrics.sdr(est, ref, SR), (per_channel[0] + per_channel[1]) / 2)


# ------------------------------------------------------------------------------------------------------
# Perceptual scores
# ------------------------------------------------------------------------------------------------------


def test_visqol_identical_near_ceiling_and_lowpassed_lower():
    ref = music_like(batch=1, seconds=1.5)
    lowpassed = band_filter(ref, SR, 0, 4000)
    value = perceptual.visqol(torch.cat([ref, lowpassed]), torch.cat([ref, ref]), SR)
    print(f"ViSQOL identical {value[0]:.3f}, low-passed at 4 kHz {value[1]:.3f}")
    assert value[0] > 4.5
    assert value[1] < value[0] - 0.5
    short = ref[..., :SR // 5]  # ViSQOL's patches need about one second.
    with pytest.warns(RuntimeWarning, match='ViSQOL could not score'):
        assert torch.isnan(perceptual.visqol(short, short, SR)).all()
    with pytest.raises(ValueError, match='silent'):
        perceptual.visqol(torch.zeros_like(ref), torch.zeros_like(ref), SR, on_error='raise')


def test_pesq_and_stoi_rank_identical_above_noisy():
    ref = speech_like()
    est = torch.cat([ref, add_noise(ref, 5)])
    refs = torch.cat([ref, ref])
    pesq = perceptual.pesq_score(est, refs, 16000)
    stoi = perceptual.stoi_score(est, refs, 16000)
    print(f"PESQ identical {pesq[0]:.3f}, noisy {pesq[1]:.3f}; STOI identical {stoi[0]:.3f}, noisy {stoi[1]:.3f}")
    assert pesq[0] > 4.0 and pesq[1] < pesq[0] - 1
    assert stoi[0] > 0.99 and stoi[1] < stoi[0] - 0.1
    # At 32 kHz, PESQ resamples to 16 kHz and gives about the same score.
    import julius
    pesq_32k = perceptual.pesq_score(julius.resample_frac(est, 16000, 32000), julius.resample_frac(refs, 16000, 32000),
                                  32000)
    assert pesq_32k[0] > 4.0 and pesq_32k[1] < pesq_32k[0] - 1


def test_pesq_and_stoi_give_nan_or_raise_on_unscorable_clips():
    short = speech_like(seconds=0.2)
    silent = torch.zeros(1, 1, 16000)
    with pytest.warns(RuntimeWarning, match='at least 0.25 s'):
        assert torch.isnan(perceptual.pesq_score(short, short, 16000)).all()
    with pytest.warns(RuntimeWarning, match='silent'):
        assert torch.isnan(perceptual.pesq_score(silent, silent, 16000)).all()
    with pytest.raises(ValueError, match='silent'):
        perceptual.pesq_score(silent, silent, 16000, on_error='raise')
    with pytest.warns(RuntimeWarning, match='STOI needs'):
        assert torch.isnan(perceptual.stoi_score(short, short, 16000)).all()
    with pytest.raises(ValueError, match='silent'):
        perceptual.stoi_score(silent, silent, 16000, on_error='raise')


# ------------------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------------------


def test_compute_metrics_uses_the_registry():
    ref = music_like()
    est = add_noise(ref, 20)
    scores = metrics.compute_metrics(est, ref, SR)
    assert list(scores) == list(metrics.DEFAULT_METRICS)
    for name, value in scores.items():
        assert value.shape == (2,) and value.dtype == torch.float32
        torch.testing.assert_close(value, metrics.METRICS[name](est, ref, SR))
    higher = [m.name for m in metrics.METRICS.values() if m.higher_is_better]
    assert higher == ['si_sdr', 'sdr', 'visqol', 'pesq', 'stoi']
    assert list(metrics.compute_metrics(est, ref, SR, ['sdr'])) == ['sdr']
    with pytest.raises(ValueError, match='Unknown metric'):
        metrics.compute_metrics(est, ref, SR, ['mel_distance', 'nope'])


@pytest.mark.parametrize('est, ref, sample_rate, match', [
    (torch.zeros(1, 1, 4000), torch.zeros(1, 1, 3000), SR, 'shapes differ'),
    (torch.zeros(1, 4000), torch.zeros(1, 4000), SR, r'\[B, C, T\]'),
    (torch.zeros(1, 1, 0), torch.zeros(1, 1, 0), SR, 'empty'),
    (torch.full((1, 1, 4000), math.nan), torch.zeros(1, 1, 4000), SR, 'NaN or infinite'),
    (torch.zeros(1, 1, 4000), torch.full((1, 1, 4000), math.inf), SR, 'NaN or infinite'),
    (torch.zeros(1, 1, 4000), torch.zeros(1, 1, 4000), 0, 'sample rate'),
    (torch.zeros(1, 1, 4000), torch.zeros(1, 1, 4000), 32000.0, 'sample rate'),
    (torch.zeros(1, 1, 4000, dtype=torch.long), torch.zeros(1, 1, 4000, dtype=torch.long), SR, 'floating'),
])
def test_bad_inputs_raise_clear_errors(est, ref, sample_rate, match):
    for name in metrics.DEFAULT_METRICS:
        with pytest.raises(ValueError, match=match):
            metrics.METRICS[name](est, ref, sample_rate)


def test_too_short_for_the_stft_window():
    x = torch.zeros(1, 1, 1000)
    with pytest.raises(ValueError, match='too short'):
        metrics.mel_distance(x, x, SR)
    with pytest.raises(ValueError, match='too short'):
        metrics.stft_distance(x, x, SR)
