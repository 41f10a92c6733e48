"""`python -m bandsplit_audiocraft.baselines` prints parameters, bitrates and budgets that match the configs."""
import json
import math

import pytest

from bandsplit_audiocraft import baselines
from bandsplit_audiocraft.configs import compose


def expected_from_config(name: str) -> dict:
    """Bitrate, frame rate and codebooks read off the composed yaml, independently of any model code."""
    cfg = compose(baselines.matched_overrides(name, solver='bandsplit_codec/tiny'))
    rates, codebooks, hops = [], [], []
    for branch in cfg.bandsplit.branches.values():
        if not branch.enabled:
            continue
        rates.append(int(branch.sample_rate))
        if branch.architecture == 'dac':
            dac = {**cfg.dac, **branch.get('dac', {})}
            codebooks.append(int(dac['n_codebooks']))
            hops.append(math.prod(dac['encoder_rates']))
        else:
            seanet = {**cfg.seanet, **branch.get('seanet', {})}
            codebooks.append(int(branch.get('rvq', {}).get('n_q', cfg.rvq.n_q)))
            hops.append(math.prod(seanet['ratios']))
    order = sorted(range(len(rates)), key=rates.__getitem__)
    frame_rates = {rates[i] / hops[i] for i in order}
    assert len(frame_rates) == 1
    frame_rate = frame_rates.pop()
    return {'codebooks_per_branch': [codebooks[i] for i in order], 'frame_rate': frame_rate,
            'kbps': sum(codebooks) * frame_rate * math.log2(cfg.rvq.bins) / 1000, 'sample_rate': max(rates),
            'batch_size': cfg.dataset.batch_size, 'segment_seconds': cfg.dataset.segment_duration}


@pytest.fixture(scope='module')
def rows():
    return {r['name']: r for r in (baselines.describe(n, solver='bandsplit_codec/tiny') for n in baselines.COMPARED)}


def test_rows_match_the_configs(rows):
    assert set(rows) == {'bandsplit', 'seanet_32k', 'seanet_16k', 'dac_32k', 'dac_16k'}
    for name, row in rows.items():
        for key, value in expected_from_config(name).items():
            assert row[key] == pytest.approx(value), (name, key)
    # The paper's operating points: 4 kbps at 32 kHz and 2 kbps at 16 kHz.
    assert rows['bandsplit']['kbps'] == rows['seanet_32k']['kbps'] == rows['dac_32k']['kbps'] == 4.0
    assert rows['seanet_16k']['kbps'] == rows['dac_16k']['kbps'] == 2.0
    assert rows['bandsplit']['architecture'] == 'seanet+seanet' and rows['dac_32k']['architecture'] == 'dac'


def test_budgets_are_matched(rows):
    cfg = compose(['solver=bandsplit_codec/tiny'])
    cascade = cfg.cascade
    expected = (2 * cascade.branch_phase + cascade.joint_phase) * cfg.optim.updates_per_epoch
    assert {r['updates'] for r in rows.values()} == {expected}
    assert rows['bandsplit']['phases'] == ['low', 'high', 'joint'] and rows['dac_32k']['phases'] == ['joint']


def test_parameter_counts(rows):
    from bandsplit_audiocraft.models import get_bandsplit_model
    cfg = compose(baselines.matched_overrides('seanet_32k', solver='bandsplit_codec/tiny'))
    model = get_bandsplit_model(cfg)
    assert rows['seanet_32k']['params_m'] == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6)
    # Same width per branch: the band-split codec's top branch is the 32 kHz baseline's network (audiocraft's
    # codebooks are EMA buffers, not parameters, so their number does not count).
    assert rows['bandsplit']['branch_params_m'][1] == pytest.approx(rows['seanet_32k']['params_m'])
    assert rows['bandsplit']['params_m'] == pytest.approx(sum(rows['bandsplit']['branch_params_m']))


def test_command_prints_the_table(capsys):
    assert baselines.main(['--solver', 'bandsplit_codec/tiny', '--models', 'bandsplit,dac_16k']) == 0
    out = capsys.readouterr().out
    assert '| bandsplit | seanet+seanet |' in out and '| dac_16k | dac |' in out and '| 2 |' in out
    assert baselines.main(['--solver', 'bandsplit_codec/tiny', '--models', 'seanet_16k', '--json']) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row['kbps'] == 2.0 and row['sample_rate'] == 16000
    with pytest.raises(SystemExit):
        baselines.main(['--models', 'nope'])
