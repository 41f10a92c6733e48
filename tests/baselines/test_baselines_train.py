"""Every baseline trains through the same `dora run` code path and loads back through audiocraft's API."""
import json
from pathlib import Path
import typing as tp

import pytest
import torch

from tests.helpers import train_together

pytestmark = pytest.mark.slow

UPDATES = 4
SHORT_RUN = ['solver=bandsplit_codec/tiny', 'cascade.joint_phase=1', f'optim.updates_per_epoch={UPDATES}',
             f'dataset.train.num_samples={8 * UPDATES}', 'dataset.valid.num_samples=4',
             'dataset.evaluate.num_samples=2', 'dataset.generate.num_samples=1']

BASELINES = {
    # model config, extra overrides, sample rate, codebooks, kbps, architecture of the only branch
    'seanet_32k': (['model=bandsplit/single_32k'], 32000, [8], 4.0, 'CodecBranch'),
    'seanet_16k': (['model=bandsplit/single_16k', 'sample_rate=16000'], 16000, [4], 2.0, 'CodecBranch'),
    'dac_32k': (['model=bandsplit/dac_32k'], 32000, [8], 4.0, 'DACBranch'),
    'dac_16k': (['model=bandsplit/dac_16k', 'sample_rate=16000'], 16000, [4], 2.0, 'DACBranch'),
}


@pytest.fixture(scope='module')
def trained(tmp_path_factory, corpus_dir) -> tp.Dict[str, Path]:
    """Every baseline's short run, two at a time."""
    return train_together(tmp_path_factory.mktemp('dora'),
                          {name: [*SHORT_RUN, f'corpus_dir={corpus_dir}', *BASELINES[name][0]] for name in BASELINES})


@pytest.mark.parametrize('name', list(BASELINES))
def test_baseline_trains_exports_and_loads(name, tmp_path, trained):
    from audiocraft.models import CompressionModel

    from bandsplit_audiocraft.export import export_checkpoint

    _, sample_rate, codebooks, kbps, architecture = BASELINES[name]
    xp = trained[name]
    hist = json.loads((xp / 'history.json').read_text())
    assert len(hist) == 1 and 'evaluate' in hist[0]
    assert hist[0]['train']['bandwidth'] == pytest.approx(kbps)

    model = CompressionModel.get_pretrained(str(export_checkpoint(xp, tmp_path / f'{name}.th')))
    assert model.sample_rate == sample_rate and model.frame_rate == 50
    assert model.codebooks_per_branch == codebooks and model.bandwidth == kbps
    assert [type(b).__name__ for b in model.branches] == [architecture]
    x = torch.randn(1, 1, sample_rate // 4) * 0.1
    with torch.no_grad():
        codes, scale = model.encode(x)
        y = model.decode(codes, scale)
    assert codes.shape[1] == sum(codebooks) and int(codes.max()) < 1024
    assert y.shape[-1] >= x.shape[-1] and torch.isfinite(y).all()
