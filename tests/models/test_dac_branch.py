"""The DAC architecture as a branch: same interface and guarantees as the SEANet/RVQ branch."""
from audiocraft.models import CompressionModel
import pytest
import torch

from bandsplit_audiocraft.codec import cli
from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.data.audio_io import read_audio, write_wav
from bandsplit_audiocraft.export import export_model
from bandsplit_audiocraft.models import DACBranch, get_bandsplit_model

TINY = {'encoder_dim': 4, 'decoder_dim': 32, 'codebook_size': 64, 'codebook_dim': 4}


def dac_model(*overrides: str, seed: int = 0):
    torch.manual_seed(seed)
    return get_bandsplit_model(model_config(['model=bandsplit/dac_32k', *overrides])).eval()


def test_paper_codec_config_is_two_dac_branches_at_50_hz():
    model = dac_model('model=bandsplit/dac')
    low, high = model.branches
    assert isinstance(low, DACBranch) and isinstance(high, DACBranch)
    assert (low.sample_rate, low.hop_length, high.sample_rate, high.hop_length) == (16000, 320, 32000, 640)
    assert model.codebooks_per_branch == [4, 4] and model.cardinality == 1024
    assert [b.quantizer.quantizers[0].codebook_dim for b in model.branches] == [8, 8]
    assert low.bandwidth == 2.0 and model.bandwidth == 4.0 and model.frame_rate == 50


def test_branch_shapes_codes_and_bitrate():
    branch = DACBranch(16000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=3, **TINY).eval()
    assert branch.hop_length == 320 and branch.frame_rate == 50 and branch.cardinality == 64
    assert branch.bandwidth == pytest.approx(3 * 50 * 6 / 1000)
    x = torch.randn(2, 1, 320 * 7) * 0.1
    with torch.no_grad():
        res = branch(x)
        codes = branch.encode(x)
        y = branch.decode(codes)
    # Odd strides make DAC's decoder one sample short: the branch pads back to frames * hop.
    assert res.x.shape == x.shape and y.shape == x.shape and codes.shape == (2, 3, 7)
    assert torch.equal(res.codes, codes) and torch.allclose(res.x, y, atol=1e-6)
    branch.set_num_codebooks(1)
    with torch.no_grad():
        assert torch.equal(branch.encode(x), codes[:, :1])
    branch.set_num_codebooks(0)
    assert branch.num_codebooks == 0 and branch.encode(x).shape == (2, 0, 7)
    assert torch.count_nonzero(branch(x).x) == 0


def test_training_mode_penalty_is_dac_quantizer_loss():
    branch = DACBranch(16000, encoder_rates=[2, 4, 4, 10], decoder_rates=[10, 4, 4, 2], n_codebooks=2, **TINY)
    res = branch.train()(torch.randn(1, 1, 640) * 0.1)
    expected = 0.25 * res.metrics['commitment'] + res.metrics['codebook']
    assert res.penalty.requires_grad and torch.allclose(res.penalty.detach(), expected)
    res.penalty.backward()
    assert branch.quantizer.quantizers[0].codebook.weight.grad is not None


def test_configuration_errors_are_clear():
    with pytest.raises(ValueError, match='mono'):
        DACBranch(16000, channels=2, **TINY)
    with pytest.raises(ValueError, match='same product'):
        DACBranch(16000, encoder_rates=[2, 4], decoder_rates=[4, 4], **TINY)
    with pytest.raises(ValueError, match='unknown architecture'):
        get_bandsplit_model(model_config(['model=bandsplit/dac_32k', 'bandsplit.branches.high.architecture=x']))


@pytest.mark.parametrize('config, codebooks', [('dac_32k', [8]), ('dac', [4, 4])])
def test_dac_model_exports_loads_and_codes_to_a_file(config, codebooks, tmp_path):
    """The DAC baseline and the paper's codec (two DAC branches) through export, audiocraft's loader and the CLI."""
    model = dac_model(f'model=bandsplit/{config}')
    with torch.no_grad():
        model(torch.randn(1, 1, 32000) * 0.1)
    path = export_model(model, model_config([f'model=bandsplit/{config}']), tmp_path / 'dac.th')
    loaded = CompressionModel.get_pretrained(str(path))
    assert all(isinstance(b, DACBranch) for b in loaded.branches) and loaded.bandwidth == 4.0
    assert loaded.codebooks_per_branch == codebooks
    write_wav(tmp_path / 'clip.wav', torch.randn(1, 12345) * 0.1, 32000, subtype='FLOAT')
    x = read_audio(tmp_path / 'clip.wav')[0][None]
    with torch.no_grad():
        codes, _ = loaded.encode(x)
        expected = loaded.decode(codes)[..., :x.shape[-1]]
        assert torch.equal(codes, model.encode(x)[0])
    # Through the codec's command line: audio -> .bsac -> audio gives the model's own reconstruction.
    common = ['--checkpoint', str(path), '--device', 'cpu']
    assert cli.main(['compress', str(tmp_path / 'clip.wav'), str(tmp_path / 'clip.bsac'), *common]) == 0
    assert cli.main(['decompress', str(tmp_path / 'clip.bsac'), str(tmp_path / 'out.wav'), *common]) == 0
    y, sr = read_audio(tmp_path / 'out.wav')
    assert sr == 32000 and y.shape[-1] == x.shape[-1]
    assert (y - expected[0]).abs().max() < 1e-4  # the decoded file is 16-bit PCM
