"""The paper's configuration end to end: `dora run solver=bandsplit_codec/dac_recipe` trains the band-split
codec with DAC branches through the whole cascade with DAC's discriminators, and the DAC baseline with the same
recipe; both export and load through audiocraft's API."""
import json
from pathlib import Path
import typing as tp

import pytest
import torch

from tests.helpers import train_together

pytestmark = pytest.mark.slow

SHORT = ['solver=bandsplit_codec/dac_recipe_tiny', 'optim.updates_per_epoch=2', 'dataset.train.num_samples=8',
         'dataset.valid.num_samples=2', 'dataset.segment_duration=0.2']


MODELS = {  # model config: phases, branch rates, codebooks per branch
    'bandsplit/dac': ([0, 1, 2], [16000, 32000], [4, 4]),
    'bandsplit/dac_32k': ([0], [32000], [8]),
}


@pytest.fixture(scope='module')
def trained(tmp_path_factory, corpus_dir) -> tp.Dict[str, Path]:
    """Both models' short runs at once; a baseline trains as long as the cascade."""
    return train_together(tmp_path_factory.mktemp('dora'), {
        model: [*SHORT, f'model={model}', f'corpus_dir={corpus_dir}',
                *(['cascade.joint_phase=3'] if len(rates) == 1 else [])]
        for model, (_, rates, _) in MODELS.items()})


@pytest.mark.parametrize('model', list(MODELS))
def test_dac_recipe_trains_exports_and_loads(model, tmp_path, trained):
    from audiocraft.models import CompressionModel

    from bandsplit_audiocraft.export import export_checkpoint
    from bandsplit_audiocraft.models import DACBranch

    phases, rates, codebooks = MODELS[model]
    xp = trained[model]
    hist = json.loads((xp / 'history.json').read_text())
    assert sorted({int(h['train']['phase']) for h in hist}) == phases and len(hist) == 3
    names = ['low', 'high'] if len(rates) == 2 else ['high']
    for name in names:  # DAC's discriminator trained and scored every branch, with DAC's mel loss
        assert any(f'd_dac_{name}' in h['train'] and f'dac_mel_{name}' in h['train'] for h in hist)
        assert any(f'codebook_{name}' in h['train'] for h in hist)
    assert 'evaluate' in hist[-1]
    assert sorted(p.name for p in xp.glob('checkpoint_*.th')) == ['checkpoint_2.th', 'checkpoint_3.th']

    loaded = CompressionModel.get_pretrained(str(export_checkpoint(xp, tmp_path / 'model.th')))
    assert [type(b) for b in loaded.branches] == [DACBranch] * len(rates)
    assert loaded.branch_rates == rates and loaded.codebooks_per_branch == codebooks
    assert loaded.frame_rate == 50 and loaded.bandwidth == 4.0
    x = torch.randn(1, 1, 8000) * 0.1
    with torch.no_grad():
        codes, scale = loaded.encode(x)
        y = loaded.decode(codes, scale)
    assert codes.shape == (1, sum(codebooks), 13) and y.shape[-1] >= x.shape[-1] and torch.isfinite(y).all()
