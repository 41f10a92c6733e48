"""The deployed codec (`bandsplit_audiocraft.deploy`): same codes and audio as the PyTorch model, cached."""
import os
from pathlib import Path
import subprocess
import sys

import pytest
import torch

from bandsplit_audiocraft import deploy
from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.export import export_model, model_id
from bandsplit_audiocraft.models import BandSplitCompressionModel
from tests.helpers import MODEL_PRESETS, build_tiny, make_signal

REPO = Path(__file__).resolve().parents[1]


def wav_length(path: Path) -> int:
    import soundfile as sf
    return sf.info(str(path)).frames

# Each architecture and branch ladder the deployment must reproduce: SEANet/RVQ (two and three bands), DAC.
CASES = {
    'seanet_two_band': ('two_band', 'bandsplit_codec/tiny', ()),
    'seanet_three_band': ('three_band', 'bandsplit_codec/tiny', ()),
    'dac_two_band': (None, 'bandsplit_codec/dac_recipe_tiny', ('model=bandsplit/dac',)),
}


def _model(case: str) -> BandSplitCompressionModel:
    preset, solver, overrides = CASES[case]
    torch.manual_seed(0)
    cfg = model_config([*(MODEL_PRESETS[preset] if preset else []), *overrides], solver=solver)
    from bandsplit_audiocraft.models import get_bandsplit_model
    model = get_bandsplit_model(cfg).eval()
    with torch.no_grad():  # k-means initialisation of SEANet's codebooks
        model(make_signal(1.0, model.sample_rate)[None])
    return model


@pytest.mark.parametrize('case', sorted(CASES))
def test_deployed_model_codes_and_decodes_like_the_model(case, tmp_path):
    model = _model(case)
    deployed = deploy.DeployedModel.load(deploy.export_deployment(model, tmp_path / 'deployment', b'\0' * 16))
    assert deployed.branch_rates == model.branch_rates and deployed.total_codebooks == model.total_codebooks
    assert model.summary() in repr(model) and model.summary() in repr(deployed)
    assert f"{model.branches[0].sample_rate} Hz x {model.branches[0].total_codebooks} codebooks" in model.summary()
    rate = model.sample_rate
    # Lengths that are not whole frames nor the traced 50 frames, a batch of 3, and one shorter than a frame.
    for seconds, batch in [(2.3, 3), (0.61, 1), (0.004, 1)]:
        x = torch.stack([make_signal(seconds, rate, seed=i) for i in range(batch)]) * 0.8
        with torch.inference_mode():
            codes, _ = model.encode(x)
            ours, _ = deployed.encode(x)
            assert ours.shape == codes.shape and ours.dtype == codes.dtype
            # Codes may only differ where float rounding tips a nearest-neighbour tie; none do here.
            assert (ours != codes).float().mean() <= 1e-3
            for n in range(1, model.total_codebooks + 1):  # every bitrate, lowest branch first
                model.set_num_codebooks(n)
                deployed.set_num_codebooks(n)
                for ref, got in zip(model.decode_bands(codes[:, :n]), deployed.decode_bands(codes[:, :n])):
                    assert got.shape == ref.shape
                    assert (got - ref).abs().max() <= 1e-4
                if n in (model.branches[0].total_codebooks, model.total_codebooks):
                    for coder in (model, deployed):  # one call, every branch decoded once: encode, then decode
                        trip_codes, audio = coder.round_trip(x)
                        assert torch.equal(trip_codes, coder.encode(x)[0])
                        assert torch.equal(audio, coder.decode(trip_codes))
            model.set_num_codebooks(model.total_codebooks)
            deployed.set_num_codebooks(deployed.total_codebooks)


def test_deployed_model_rejects_bad_input_like_the_model(tmp_path):
    deployed = deploy.DeployedModel.load(deploy.export_deployment(build_tiny(), tmp_path / 'd', b'\0' * 16))
    with pytest.raises(ValueError, match='non-finite'):
        deployed.encode(torch.full((1, 1, 640), float('nan')))
    with pytest.raises(ValueError, match='must lie in'):
        deployed.decode(torch.full((1, 8, 3), 5000))
    with pytest.raises(ValueError, match='not a deployment'):
        deploy.DeployedModel.load(tmp_path)


def test_deployment_is_made_once_per_checkpoint_and_remade_when_it_changes(tiny_model, tmp_path):
    checkpoint = export_model(tiny_model, model_config(), tmp_path / 'model.th')
    folder = deploy.deployment(checkpoint)
    assert folder.parent.parent == deploy.cache_root() == Path(os.environ['BANDSPLIT_CACHE'])
    manifest = (folder / deploy.MANIFEST).stat().st_mtime_ns
    assert deploy.deployment(checkpoint) == folder and (folder / deploy.MANIFEST).stat().st_mtime_ns == manifest
    assert deploy.DeployedModel.load(folder).model_id == model_id(checkpoint)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith('.making-')]

    export_model(build_tiny(seed=1), model_config(), checkpoint)  # the same path, another model
    other = deploy.deployment(checkpoint)
    assert other != folder and deploy.DeployedModel.load(other).model_id == model_id(checkpoint)

    (other / deploy.MANIFEST).write_text('{}')  # a damaged entry is made again
    assert deploy.DeployedModel.load(deploy.deployment(checkpoint)).model_id == model_id(checkpoint)

    with pytest.raises(FileNotFoundError):
        deploy.deployment(tmp_path / 'missing.th')


def test_command_line_codes_without_importing_audiocraft(tiny_model, tmp_path):
    """`compress` / `decompress` with a cached deployment run without audiocraft, and match `--reference`."""
    import soundfile as sf
    tiny_checkpoint = export_model(tiny_model, model_config(), tmp_path / 'tiny.th')
    wav = tmp_path / 'in.wav'
    sf.write(wav, make_signal(1.5).T.numpy(), 32000)
    deploy.deployment(tiny_checkpoint)
    script = ("import sys; from bandsplit_audiocraft.codec.cli import main; code = main(sys.argv[1:]); "
              "print('audiocraft' in sys.modules); sys.exit(code)")

    def run(*args: str) -> str:
        proc = subprocess.run([sys.executable, '-c', script, *args, '-q', '--checkpoint', str(tiny_checkpoint)],
                              cwd=REPO, capture_output=True, text=True, timeout=300,
                              env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip().splitlines()[-1]

    assert run('compress', str(wav), str(tmp_path / 'fast.bsac')) == 'False'
    assert run('decompress', str(tmp_path / 'fast.bsac'), str(tmp_path / 'fast.wav')) == 'False'
    assert run('compress', str(wav), str(tmp_path / 'ref.bsac'), '--reference') == 'True'
    assert (tmp_path / 'fast.bsac').read_bytes() == (tmp_path / 'ref.bsac').read_bytes()
    from bandsplit_audiocraft.codec import container
    _, codes = container.read_file(tmp_path / 'fast.bsac')
    with torch.inference_mode():
        ref = tiny_model.decode(torch.from_numpy(codes))[0, 0, :wav_length(wav)].numpy()
    fast, _ = sf.read(tmp_path / 'fast.wav')
    assert fast.shape == ref.shape and abs(fast - ref).max() <= 1e-4 + 2 ** -15  # PCM16 output
