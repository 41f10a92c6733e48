"""Tests of the band analysis: band filtering, band SDR, energy shares and the nested analysis dict."""

import math

import pytest
import torch

from bandsplit_audiocraft.evaluation import band_analysis as ba
from bandsplit_audiocraft.evaluation.statistics import mean_over_clips

SR = 32000


def sine(freq: float, samples: int = SR, amplitude: float = 1.0, phase: float = 0.3, fade_s: float = 0.0,
         batch: int = 1) -> torch.Tensor:
    """A sine `[batch, 1, samples]` at `freq` Hz, optionally with raised-cosine fades in and out."""
    t = torch.arange(samples, dtype=torch.float64) / SR
    x = amplitude * torch.sin(2 * math.pi * freq * t + phase)
    if fade_s > 0:
        n = int(fade_s * SR)
        ramp = 0.5 - 0.5 * torch.cos(math.pi * torch.arange(n, dtype=torch.float64) / n)
        x[:n] *= ramp
        x[-n:] *= ramp.flip(0)
    return x.float().expand(batch, 1, samples).clone()


def energy_db(x: torch.Tensor) -> float:
    return 10 * math.log10(x.double().pow(2).sum().item() + 1e-300)


@pytest.mark.parametrize('samples, fade_s', [(SR, 0.0), (32123, 0.01), (16111, 0.01)])
def test_band_filter_keeps_and_removes_a_4khz_sine(samples, fade_s):
    x = sine(4000, samples, fade_s=fade_s)
    low = ba.band_filter(x, SR, 0, 8000)
    high = ba.band_filter(x, SR, 8000, 16000)
    assert energy_db(x) - energy_db(high) > 60
    assert energy_db(x) - energy_db(x - low) > 60
    assert low.shape == x.shape and low.dtype == x.dtype


def test_band_filter_partitions_the_signal():
    x = torch.randn(2, 2, 20001, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bands = [(0, 3000), (3000, 8000), (8000, 16000)]
    parts = [ba.band_filter(x, SR, *band) for band in bands]
    torch.testing.assert_close(sum(parts), x)
    # Orthogonal parts: their energies add up to the total energy (Parseval).
    energies = sum(part.pow(2).sum() for part in parts)
    torch.testing.assert_close(energies, x.pow(2).sum())
    assert abs((parts[0] * parts[2]).sum().item()) < 1e-8 * x.pow(2).sum().item()
    fractions = ba.band_energy_fraction(x, SR, bands)
    torch.testing.assert_close(sum(fractions.values()), torch.ones(2))


def test_band_sdr_on_known_low_and_high_content():
    low, high = sine(3000, batch=2), sine(11000, amplitude=0.5, phase=1.0, batch=2)
    ref = low + high
    without_high = ba.band_sdr(low, ref, SR, (0, 8000)), ba.band_sdr(low, ref, SR, (8000, 16000))
    assert (without_high[0] > 40).all()
    torch.testing.assert_close(without_high[1], torch.zeros(2), atol=0.01, rtol=0)
    halved = low + 0.5 * high
    assert (ba.band_sdr(halved, ref, SR, (0, 8000)) > 40).all()
    torch.testing.assert_close(ba.band_sdr(halved, ref, SR, (8000, 16000)), torch.full((2,), 20 * math.log10(2)),
                               atol=0.1, rtol=0)


def test_band_energy_shares_add_to_one():
    gen = torch.Generator().manual_seed(1)
    output = torch.randn(3, 1, SR, generator=gen)
    # A low part with no energy above 8 kHz plus some broadband error, and the rest: not orthogonal.
    first = ba.band_filter(output, SR, 0, 8000) + 0.3 * torch.randn(3, 1, SR, generator=gen)
    second = output - first
    shares = [ba.band_energy_share(part, output, SR) for part in (first, second)]
    for label in ('0-8000', '8000-16000'):
        torch.testing.assert_close(shares[0][label] + shares[1][label], torch.ones(3), atol=1e-5, rtol=0)
    # Orthogonal parts: the share is the energy ratio; a part with no content in a band has share 0.
    lowpass = ba.band_filter(output, SR, 0, 8000)
    share = ba.band_energy_share(lowpass, output, SR)
    torch.testing.assert_close(share['8000-16000'], torch.zeros(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(share['0-8000'], torch.ones(3))
    # NaN where the total is silent in the band.
    assert torch.isnan(ba.band_energy_share(torch.zeros_like(output), torch.zeros_like(output), SR)['0-8000']).all()


def test_crossover_sdr_sees_a_hole_at_8khz():
    ref = torch.randn(2, 1, SR, generator=torch.Generator().manual_seed(2))
    holed = ref - ba.band_filter(ref, SR, 7700, 8300)
    torch.testing.assert_close(ba.crossover_sdr(holed, ref, SR, width=600), torch.zeros(2), atol=1e-3, rtol=0)
    # A 1 kHz window of which 600 Hz are missing: SDR = -10 log10(0.6) on white noise, roughly.
    assert ba.crossover_sdr(holed, ref, SR).mean().item() == pytest.approx(-10 * math.log10(0.6), abs=0.3)
    assert (ba.crossover_sdr(ref, ref, SR) > 60).all()
    with pytest.raises(ValueError, match='sample_rate / 2'):
        ba.crossover_sdr(ref, ref, 16000)
    with pytest.raises(ValueError, match='width'):
        ba.crossover_sdr(ref, ref, SR, width=0)


def test_analyse_bands_structure_and_values():
    gen = torch.Generator().manual_seed(3)
    reference = torch.randn(2, 1, SR, generator=gen)
    low = ba.band_filter(reference, SR, 0, 8000) + 0.1 * ba.band_filter(torch.randn(2, 1, SR, generator=gen), SR,
                                                                       0, 7900)
    residual = reference - low
    high = residual + 0.2 * torch.randn(2, 1, SR, generator=gen)
    output = low + high
    result = ba.analyse_bands(reference, {'low': low, 'high': high}, output, SR, targets={'high': residual})
    assert set(result) == {'low', 'high', 'output'}
    for entry in result.values():
        assert set(entry) == {'sdr', 'energy_share', 'energy_fraction', 'crossover_sdr'}
        for key in ('sdr', 'energy_share', 'energy_fraction'):
            assert set(entry[key]) == {'0-8000', '8000-16000'}
            assert all(v.shape == (2,) for v in entry[key].values())
        assert entry['crossover_sdr'].shape == (2,)
    for label in ('0-8000', '8000-16000'):
        total = result['low']['energy_share'][label] + result['high']['energy_share'][label]
        torch.testing.assert_close(total, torch.ones(2), atol=1e-5, rtol=0)
        torch.testing.assert_close(result['output']['energy_share'][label], torch.ones(2))
        torch.testing.assert_close(result['high']['sdr'][label], ba.band_sdr(high, residual, SR, (0, 8000))
                                   if label == '0-8000' else ba.band_sdr(high, residual, SR, (8000, 16000)))
        torch.testing.assert_close(result['output']['sdr'][label],
                                   ba.band_sdr(output, reference, SR, tuple(map(int, label.split('-')))))
    # The low part holds nothing above 8 kHz; the output's error is the high part's error.
    torch.testing.assert_close(result['low']['energy_share']['8000-16000'], torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(result['low']['sdr']['8000-16000'], torch.zeros(2), atol=1e-4, rtol=0)
    summary = mean_over_clips(result)
    assert isinstance(summary['high']['sdr']['8000-16000'], float)
    assert isinstance(summary['output']['crossover_sdr'], float)


def test_analyse_bands_rejects_bad_input():
    x = torch.randn(1, 1, 8000)
    with pytest.raises(ValueError, match='reserved'):
        ba.analyse_bands(x, {'output': x}, x, SR)
    with pytest.raises(ValueError, match="Contribution 'low'.*shapes differ"):
        ba.analyse_bands(x, {'low': x[..., :4000]}, x, SR)
    with pytest.raises(ValueError, match='do not name any contribution'):
        ba.analyse_bands(x, {'low': x}, x, SR, targets={'high': x})
    with pytest.raises(ValueError, match='at least one band'):
        ba.analyse_bands(x, {'low': x}, x, SR, bands=())


@pytest.mark.parametrize('band, match', [
    ((0, 20000), 'sample_rate / 2'),
    ((8000, 8000), 'low < high'),
    ((-1, 8000), 'low < high'),
    ((0, 8000, 16000), 'pair'),
])
def test_bad_bands_raise(band, match):
    x = torch.randn(1, 1, 8000)
    with pytest.raises(ValueError, match=match):
        ba.band_sdr(x, x, SR, band)


def test_band_filter_rejects_bad_signals():
    with pytest.raises(ValueError, match='empty'):
        ba.band_filter(torch.zeros(1, 1, 0), SR, 0, 8000)
    with pytest.raises(ValueError, match='NaN'):
        ba.band_filter(torch.full((1, 1, 10), math.nan), SR, 0, 8000)
    with pytest.raises(ValueError, match='floating'):
        ba.band_filter(torch.zeros(1, 1, 10, dtype=torch.long), SR, 0, 8000)
    with pytest.raises(ValueError, match='sample rate'):
        ba.band_filter(torch.zeros(1, 1, 10), -1, 0, 8000)
