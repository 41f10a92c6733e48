"""Tests of the toy inpainting experiment: band-limited input, residual formation and finite scores."""

import math

import numpy as np
import pytest
import torch

from bandsplit_audiocraft.data.corpus import synth_clip
from bandsplit_audiocraft.evaluation import inpainting as ip
from tests.helpers import build_tiny

SR = 32000


def clips(*kinds: str, seconds: float = 0.3) -> torch.Tensor:
    """Synthetic corpus clips `[len(kinds), 1, T]` with content on both sides of 8 kHz."""
    return torch.stack([torch.from_numpy(synth_clip(kind, seconds, SR, np.random.default_rng(i)))[None]
                        for i, kind in enumerate(kinds)])


def leaves(tree):
    for value in tree.values():
        if isinstance(value, dict):
            yield from leaves(value)
        else:
            yield value


def test_band_limited_input_and_upsampled_low_output_have_no_high_band(tiny_model):
    x = clips('mixture', 'chirp_linear')
    assert (ip.level_above_db(x, SR, 8000) > -30).all()  # the originals do have an upper band
    signals = ip.inpaint(tiny_model, x)
    assert signals.cutoff_hz == 8000 and signals.sample_rate == SR
    assert (ip.level_above_db(signals.band_limited, SR, 8000) < -60).all()
    # U(d16): nothing above 8 kHz beyond the transition band of the upsampler (see GUARD_HZ).
    stopband = ip.level_above_db(signals.lifted_low, SR, 8000 + ip.GUARD_HZ, fade_seconds=ip.FADE_SECONDS)
    assert (stopband < -60).all()
    assert (ip.level_above_db(signals.residual, SR, 8000 + ip.GUARD_HZ, fade_seconds=ip.FADE_SECONDS) < -60).all()
    # The composition documented in the module: y32 = U(d16) + d32 and r = s_bl - U(d16).
    torch.testing.assert_close(signals.output, signals.lifted_low + signals.high_output)
    torch.testing.assert_close(signals.residual, signals.band_limited - signals.lifted_low)
    # The high branch coded exactly r: the model's own encoding of s_bl gives the same high-band codes.
    codes, _ = tiny_model.encode(signals.band_limited)
    with torch.no_grad():
        high_codes = tiny_model.branches[-1].encode(signals.residual)
    assert torch.equal(high_codes, codes[:, tiny_model.codebooks_per_branch[0]:])


def test_inpainting_scores_are_finite(tiny_model):
    x = clips('drums', 'pluck')
    scores = ip.run_inpainting(tiny_model, x)
    assert set(scores['systems']) == set(ip.SYSTEMS)
    expected = {*ip.DEFAULT_INPAINTING_METRICS, 'high_band_sdr', 'high_band_energy_db'}
    assert all(set(system) == expected for system in scores['systems'].values())
    assert set(scores['levels']) == {'band_limited_input', 'upsampled_low', 'residual', 'high_output'}
    for value in leaves(scores):
        assert value.shape == (2,) and torch.isfinite(value).all()
    # The band-limited input itself has no upper band: 0 dB high-band SDR and (almost) no high-band energy.
    systems = scores['systems']
    torch.testing.assert_close(systems['band_limited_input']['high_band_sdr'], torch.zeros(2), atol=1e-3, rtol=0)
    assert (systems['band_limited_input']['high_band_energy_db'] < -60).all()


def test_level_above_db_on_tones():
    t = torch.arange(SR, dtype=torch.float64) / SR
    low = torch.sin(2 * math.pi * 1000 * t)
    high = 0.1 * torch.sin(2 * math.pi * 12000 * t)
    level = ip.level_above_db((low + high).float()[None, None], SR, 8000)
    assert abs(level.item() - 10 * math.log10(0.01 / 1.01)) < 0.01
    assert ip.level_above_db(low.float()[None, None], SR, 8000).item() < -100
    assert torch.isnan(ip.level_above_db(torch.zeros(1, 1, 4000), SR, 8000)).all()


def test_inpainting_needs_a_band_split_model():
    with pytest.raises(ValueError, match="at least two branches"):
        ip.inpaint(build_tiny('single'), clips('mixture'))
    with pytest.raises(ValueError, match="Unknown metric"):
        ip.inpainting_metrics(ip.InpaintingSignals(*[torch.zeros(1, 1, 4000)] * 6, SR, 8000), ['nope'])
