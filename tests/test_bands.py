import math

import pytest
import torch

from bandsplit_audiocraft import bands
from tests.helpers import build_tiny


@pytest.mark.parametrize('length', [1, 2, 3, 99, 320, 639, 640, 641, 1001, 16000])
def test_resample_lengths(length):
    x = torch.randn(2, 1, length)
    low = bands.resample(x, 32000, 16000)
    assert low.shape[-1] == math.ceil(length / 2)
    up = bands.resample(low, 16000, 32000, length=length)
    assert up.shape == x.shape


def test_band_limited_signal_survives_down_and_up_sampling():
    t = torch.arange(32000) / 32000
    x = torch.sin(2 * math.pi * 1000 * t)[None, None]
    back = bands.lift(bands.resample(x, 32000, 16000), 16000, 32000)
    inner = slice(1000, -1000)
    assert (back[..., inner] - x[..., inner]).abs().max() < 1e-3


def test_downsampling_removes_the_upper_band():
    t = torch.arange(32000) / 32000
    high = torch.sin(2 * math.pi * 12000 * t)[None, None]
    low = bands.resample(high, 32000, 16000)
    assert low[..., 500:-500].abs().max() < 1e-2


def test_analysis_residual_compose_reconstructs_input():
    x = torch.randn(1, 1, 6400)
    rates = [16000, 32000]
    targets = bands.analysis(x, 32000, rates)
    assert [t.shape[-1] for t in targets] == [3200, 6400]
    lower = bands.lift(targets[0], 16000, 32000)
    outputs = [targets[0], bands.residual(targets[1], lower)]
    recon = bands.compose(outputs, rates)
    assert torch.allclose(recon[-1], x, atol=1e-5)
    assert recon[0] is outputs[0]


def test_three_rates_compose_lengths():
    outputs = [torch.randn(1, 1, 320), torch.randn(1, 1, 640), torch.randn(1, 1, 960)]
    recons = bands.compose(outputs, [16000, 32000, 48000])
    assert [r.shape[-1] for r in recons] == [320, 640, 960]


def test_errors_are_plain():
    with pytest.raises(ValueError, match='empty'):
        bands.padded_length(0, 320)
    with pytest.raises(ValueError, match='Residual shapes differ'):
        bands.residual(torch.zeros(1, 1, 10), torch.zeros(1, 1, 11))
    with pytest.raises(ValueError, match='branch outputs'):
        bands.compose([torch.zeros(1, 1, 10)], [16000, 32000])
    with pytest.raises(ValueError, match='positive'):
        bands.resample(torch.zeros(1, 1, 10), 0, 16000)
    assert bands.padded_length(641, 640) == 1280


def test_resampler_cache_built_under_inference_mode_still_trains(tiny_model):
    """Long-audio coding (under `torch.inference_mode()`) first, then training, in the same process."""
    from bandsplit_audiocraft.codec.streaming import decode_long, encode_long

    bands._resampler.cache_clear()  # the cache entries must be first built under inference mode
    wav = torch.randn(1, 16000) * 0.1
    codes = encode_long(tiny_model, wav, chunk_seconds=0.2, context_seconds=0.04)
    assert decode_long(tiny_model, codes, wav.shape[-1]).shape == wav.shape
    assert bands._resampler.cache_info().currsize > 0

    x = torch.randn(2, 1, 3200, requires_grad=True)
    bands.resample(bands.resample(x, 32000, 16000), 16000, 32000).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0

    model = build_tiny().train()
    model(torch.randn(2, 1, 3200) * 0.1).x.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
