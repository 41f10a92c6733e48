import pytest
import torch

from bandsplit_audiocraft.models import BandSplitCompressionModel, CodecBranch
from tests.helpers import build_tiny

LENGTHS = [1, 17, 319, 320, 639, 640, 641, 1000, 3333, 6400, 9999, 16001]


@torch.no_grad()
@pytest.mark.parametrize('length', LENGTHS)
def test_output_length_equals_input_length(tiny_model, length):
    x = torch.randn(2, 1, length) * 0.1
    res = tiny_model(x)
    assert res.x.shape == x.shape
    assert [y.shape[-1] for y in res.branch_recons] == [(length + 1) // 2, length]
    codes, scale = tiny_model.encode(x)
    assert scale is None
    assert codes.shape == (2, 8, tiny_model.num_frames(length))


@torch.no_grad()
@pytest.mark.parametrize('length', [641, 6400, 9999])
def test_decode_of_encode_equals_forward(tiny_model, length):
    x = torch.randn(2, 1, length) * 0.1
    res = tiny_model(x)
    codes, _ = tiny_model.encode(x)
    assert torch.equal(codes, res.codes)
    assert codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < tiny_model.cardinality
    y = tiny_model.decode(codes)[..., :length]
    assert torch.allclose(y, res.x, atol=1e-5)


@torch.no_grad()
def test_low_branch_only_decode(tiny_model):
    x = torch.randn(1, 1, 9000) * 0.1
    res = tiny_model(x)
    codes, _ = tiny_model.encode(x)
    k_low = tiny_model.branches[0].num_codebooks
    low_codes = codes[:, :k_low]
    recons = tiny_model.decode_bands(low_codes)
    assert torch.allclose(recons[0][..., :4500], res.branch_recons[0], atol=1e-5)
    # Higher branches get no codebook: the 32 kHz output is the upsampled low branch.
    assert torch.allclose(tiny_model.decode(low_codes), recons[1], atol=1e-6)
    up = tiny_model(x, num_branches=1).x
    assert torch.allclose(tiny_model.decode(low_codes)[..., :9000], up, atol=1e-5)


@torch.no_grad()
def test_branch_outputs_sum_to_output(tiny_model):
    x = torch.randn(1, 1, 6400) * 0.1
    res = tiny_model(x)
    from bandsplit_audiocraft import bands
    lifted = bands.resample(res.branch_outputs[0], 16000, 32000, length=6400)
    # Sum of the lifted low output and the high output; equal up to edge effects of the crop.
    assert torch.allclose((lifted + res.branch_outputs[1])[..., :6000], res.x[..., :6000], atol=1e-5)
    assert len(res.branch_penalties) == 2 and res.bandwidth.item() == pytest.approx(4.0)


def test_set_num_codebooks_fills_lowest_branch_first():
    model = build_tiny()
    assert model.num_codebooks == 8 and model.total_codebooks == 8
    model.set_num_codebooks(3)
    assert model.codebooks_per_branch == [3, 0]
    assert model.bandwidth == pytest.approx(1.5)
    with torch.no_grad():
        codes, _ = model.encode(torch.randn(1, 1, 3200))
        assert codes.shape[1] == 3
        assert model.decode(codes).shape == (1, 1, 3200)
    model.set_num_codebooks(6)
    assert model.codebooks_per_branch == [4, 2]
    for bad in [0, 9, 2.5]:
        with pytest.raises(ValueError, match='between 1 and 8'):
            model.set_num_codebooks(bad)


@torch.no_grad()
@pytest.mark.parametrize('preset,rates,codebooks', [
    ('single', [32000], 8), ('two_band', [16000, 32000], 8), ('three_band', [16000, 32000, 48000], 12)])
def test_one_two_three_branches(preset, rates, codebooks):
    model = build_tiny(preset)
    assert model.branch_rates == rates
    assert model.frame_rate == 50
    assert model.sample_rate == rates[-1]
    x = torch.randn(1, 1, rates[-1] // 10 + 7) * 0.1
    res = model(x)
    assert res.x.shape == x.shape
    codes, _ = model.encode(x)
    assert codes.shape == (1, codebooks, 6)
    assert torch.allclose(model.decode(codes)[..., :x.shape[-1]], res.x, atol=1e-5)


def test_mismatched_frame_rates_are_rejected():
    blocks = {'seanet': {'ratios': [8, 5, 4, 2], 'n_filters': 4, 'dimension': 8, 'lstm': 0},
              'rvq': {'n_q': 1, 'bins': 16}}
    low = CodecBranch.from_config(16000, blocks, name='low')
    high = CodecBranch.from_config(32000, blocks, name='high')
    expected = r"same frame rate.*high: 32000 Hz / hop 320 = 100 Hz.*branch 'low' needs a hop of 160"
    with pytest.raises(ValueError, match=expected):
        BandSplitCompressionModel([low, high])
    with pytest.raises(ValueError, match='strictly increasing'):
        BandSplitCompressionModel([high, low])
    with pytest.raises(ValueError, match='at least one branch'):
        BandSplitCompressionModel([])


@torch.no_grad()
def test_bad_inputs_have_clear_errors(tiny_model):
    ok = torch.zeros(1, 1, 640)
    with pytest.raises(ValueError, match='sample rate is 44100 Hz, the model expects 32000 Hz'):
        tiny_model(ok, sample_rate=44100)
    with pytest.raises(ValueError, match='Expected 1 channel'):
        tiny_model(torch.zeros(1, 2, 640))
    with pytest.raises(ValueError, match=r'shape \[B, C, T\]'):
        tiny_model.encode(torch.zeros(640))
    with pytest.raises(ValueError, match='empty'):
        tiny_model(torch.zeros(1, 1, 0))
    bad = ok.clone()
    bad[0, 0, 5] = float('nan')
    with pytest.raises(ValueError, match='non-finite'):
        tiny_model.encode(bad)
    with pytest.raises(TypeError, match='floating point'):
        tiny_model(torch.zeros(1, 1, 640, dtype=torch.int16))
    codes, _ = tiny_model.encode(ok)
    with pytest.raises(ValueError, match=r'lie in \[0, 1024\)'):
        tiny_model.decode(codes + 1024)
    with pytest.raises(ValueError, match='Got 9 codebooks, expected between 1 and 8'):
        tiny_model.decode(torch.cat([codes, codes[:, :1]], dim=1))
    with pytest.raises(TypeError, match='integer codes'):
        tiny_model.decode(codes.float())
    with pytest.raises(ValueError, match=r'shape \[B, K, F\]'):
        tiny_model.decode(codes[0])
    with pytest.raises(ValueError, match='scale'):
        tiny_model.decode(codes, scale=torch.ones(1))


@torch.no_grad()
@pytest.mark.parametrize('preset', ['two_band', 'dac'])
def test_bfloat16_precision_is_opt_in_and_close(preset):
    model = build_tiny() if preset == 'two_band' else build_tiny('two_band', 'model=bandsplit/dac')
    x = torch.randn(2, 1, 6400) * 0.1
    model(x)  # initialise the codebooks
    assert model.precision == 'float32'
    codes, _ = model.encode(x)
    audio = model.decode(codes)
    trained = model(x).x

    model.set_precision('bfloat16')
    assert [b.precision for b in model.branches] == ['bfloat16', 'bfloat16']
    approx_codes, _ = model.encode(x)
    approx_audio = model.decode(codes)
    assert approx_codes.shape == codes.shape and approx_audio.dtype == torch.float32
    assert (approx_codes == codes).float().mean() > 0.8
    assert not torch.equal(approx_audio, audio)  # the decoders did run in bfloat16
    assert (approx_audio - audio).norm() / audio.norm() < 0.05
    round_codes, round_audio = model.round_trip(x)
    assert torch.equal(round_codes, approx_codes) and torch.equal(round_audio, model.decode(approx_codes))
    assert torch.equal(model(x).x, trained)  # the training forward pass keeps the model's precision

    model.set_precision('float32')
    assert torch.equal(model.encode(x)[0], codes) and torch.equal(model.decode(codes), audio)
    with pytest.raises(ValueError, match="Unknown precision 'float16'; choose one of float32, bfloat16"):
        model.set_precision('float16')
    assert model.precision == 'float32'
