"""The dora grids: `dora grid ... --dry_run --init` lists the XPs the sweep defines, and the explorer's table
shows what a real run logged."""
import json
import os
from pathlib import Path
import subprocess
import sys
import typing as tp

import pytest

from grids.bandsplit import sweep
from tests.helpers import ANSI, Started, table_rows

REPO = Path(__file__).resolve().parent.parent


def rows_of(proc: subprocess.CompletedProcess) -> list:
    """(name, signature) of the XPs an ended `dora grid` listed."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [(name, sig) for name, _, sig in table_rows(ANSI.sub('', proc.stdout))]


@pytest.fixture(scope='module')
def dry_runs(tmp_path_factory) -> tp.Iterator[tp.Tuple[tp.Dict[str, Path], Started]]:
    """`dora grid <grid> --dry_run --init` of both grids, started together: their dora folders and the processes,
    by grid."""
    folders, procs = {}, Started()
    for grid in ('bandsplit.sweep', 'bandsplit.debug'):
        folders[grid] = tmp_path_factory.mktemp('dora')
        procs.start(grid, [sys.executable, '-m', 'dora', 'grid', grid, '--dry_run', '--init'],
                    env={**os.environ, 'AUDIOCRAFT_DORA_DIR': str(folders[grid])})
    yield folders, procs
    procs.stop()


def describe_xp(dora_dir: Path, sig: str) -> tuple:
    """What a registered XP trains, read from its composed config: (recipe's adversaries, architectures, sample
    rate, codebooks per branch, regime, epochs of each phase)."""
    from bandsplit_audiocraft.configs import compose
    from bandsplit_audiocraft.solvers.schedule import Schedule
    argv = json.loads((dora_dir / 'xps' / sig / '.argv.json').read_text())
    cfg = compose(argv)
    branches = sorted((b for b in cfg.bandsplit.branches.values() if b.get('enabled', True)),
                      key=lambda b: b.sample_rate)
    archs, codebooks = [], []
    for b in branches:
        arch = b.get('architecture', 'seanet')
        archs.append(arch)
        if arch == 'dac':
            codebooks.append(int(b.get('dac', {}).get('n_codebooks', cfg.dac.n_codebooks)))
        else:
            codebooks.append(int(b.get('rvq', {}).get('n_q', cfg.rvq.n_q)))
    schedule = Schedule.from_experiment(cfg)
    phases = tuple((p.name, (p.end - p.start) // schedule.updates_per_epoch) for p in schedule.phases)
    return (tuple(cfg.adversarial.adversaries), tuple(archs), int(cfg.sample_rate), tuple(codebooks),
            cfg.cascade.regime, phases)


def expected_sweep() -> tp.List[tuple]:
    """The sweep's definition, written out: per operating point, the cascades, the joint run and the four
    baselines, each baseline and the joint run trained as long as the longest cascade (EnCodec recipe:
    msstftd discriminators); then the paper's pair with DAC's recipe and schedule (35 + 35 + 25 epochs)."""
    budget = 2 * max(sweep.BRANCH_PHASES) + sweep.JOINT_PHASE
    expected = []
    encodec = ('msstftd',)
    for n_q in sweep.CODEBOOKS_PER_BRANCH:
        for phase in sweep.BRANCH_PHASES:
            expected.append((encodec, ('seanet', 'seanet'), 32000, (n_q, n_q), 'cascade',
                             (('low', phase), ('high', phase), ('joint', sweep.JOINT_PHASE))))
        expected.append((encodec, ('seanet', 'seanet'), 32000, (n_q, n_q), 'joint', (('joint', budget),)))
        for arch in ['seanet', 'dac']:
            expected.append((encodec, (arch,), 32000, (2 * n_q,), 'cascade', (('joint', budget),)))
            expected.append((encodec, (arch,), 16000, (n_q,), 'cascade', (('joint', budget),)))
    dac = ('dac',)
    expected.append((dac, ('dac', 'dac'), 32000, (4, 4), 'cascade', (('low', 35), ('high', 35), ('joint', 25))))
    expected.append((dac, ('dac',), 32000, (8,), 'cascade', (('joint', 95),)))
    expected.append((dac, ('dac',), 16000, (4,), 'cascade', (('joint', 95),)))
    return expected


@pytest.mark.slow
def test_sweep_lists_both_regimes_all_operating_points_and_baselines(dry_runs):
    folders, procs = dry_runs
    dora_dir = folders['bandsplit.sweep']
    rows = rows_of(procs.result('bandsplit.sweep', timeout=600))
    assert len({sig for _, sig in rows}) == len(rows)
    described = sorted(describe_xp(dora_dir, sig) for _, sig in rows)
    assert described == sorted(expected_sweep())
    assert {d[4] for d in described} == {'cascade', 'joint'}
    assert sweep.BASELINES == ['seanet_32k', 'seanet_16k', 'dac_32k', 'dac_16k']
    # Registered XPs exist on disk with their config.
    assert len(list((dora_dir / 'xps').iterdir())) == len(rows)


@pytest.mark.slow
def test_debug_grid(dry_runs):
    folders, procs = dry_runs
    described = [describe_xp(folders['bandsplit.debug'], sig)
                 for _, sig in rows_of(procs.result('bandsplit.debug', timeout=600))]
    assert sorted(d[4] for d in described if len(d[1]) == 2) == ['cascade', 'joint']
    assert sorted(d[1] for d in described if len(d[1]) == 1) == [('dac',), ('seanet',)]


def test_explorer_table_of_a_real_history():
    """`process_history` on the history.json of a real tiny cascade run (3 epochs: low, high, joint)."""
    history = json.loads((Path(__file__).parent / 'fixtures' / 'tiny_cascade_history.json').read_text())
    parts = sweep.explorer.process_history(history)
    assert parts['train']['epoch'] == 3 and parts['train']['phase'] == 2
    assert set(parts['valid']) == {'mel_low', 'sisnr_low', 'mel_high', 'sisnr_high'}
    assert set(parts['evaluate']) == {'mel', 'si_sdr', 'mel_low', 'si_sdr_low'}  # no ViSQOL in this run
    assert all(isinstance(v, float) for stage in ['valid', 'evaluate'] for v in parts[stage].values())
    assert parts['evaluate']['si_sdr'] == history[-1]['evaluate']['si_sdr']
