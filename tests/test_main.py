"""The main job as a user runs it, on a minimal budget: the band-split codec and a baseline trained at the same
time by real `dora run` processes sharing the cores, exported, reloaded, used and reported."""
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

from bandsplit_audiocraft.main import MAIN_BUDGET, with_threads
from bandsplit_audiocraft.utils.dora import REPO

pytestmark = pytest.mark.slow

MINIMAL = ['optim.updates_per_epoch=2', 'dataset.train.num_samples=16', 'cascade.branch_phase=1',
           'cascade.joint_phase=1', 'dataset.evaluate.num_samples=2', 'dataset.generate.num_samples=1']


def test_threads_are_shared_unless_set():
    cores = os.cpu_count() or 1
    assert with_threads(['a=1'], 2) == ['a=1', f'num_threads={max(1, cores // 2)}']
    assert with_threads(['num_threads=3'], 2) == ['num_threads=3']
    assert {o.split('=', 1)[0] for o in MAIN_BUDGET} == {'cascade.branch_phase', 'cascade.joint_phase'}


def test_main_job_on_a_minimal_budget(tmp_path, corpus_dir):
    out = tmp_path / 'out'
    env = {**os.environ, 'AUDIOCRAFT_DORA_DIR': str(tmp_path / 'dora')}
    env.pop('USER', None)
    proc = subprocess.run([sys.executable, '-m', 'bandsplit_audiocraft.main', '--out', str(out),
                           '--baselines', 'seanet_16k', f'corpus_dir={corpus_dir}', *MINIMAL],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['codes_shape'][1] == 8 and summary['bitrate_kbps'] == 4.0
    assert summary['wall_seconds'] >= summary['train_seconds'] > 0
    # Both runs trained, the baseline beside the band-split codec, each on its share of the cores.
    xps = [Path(p) for p in (tmp_path / 'dora' / 'xps').iterdir()]
    assert len(xps) == 2
    threads = max(1, (os.cpu_count() or 1) // 2)
    for xp in xps:
        assert f'num_threads={threads}' in (xp / '.argv.json').read_text()
    assert (out / 'train_seanet_16k.log').is_file() and (out / 'baseline_seanet_16k.th').is_file()
    report = json.loads((out / 'report' / 'report.json').read_text())
    assert set(report['models']) == {'bandsplit', 'seanet_16k'}
    for name in ('input.wav', 'reconstruction_32khz.wav', 'reconstruction_16khz_low_band_only.wav', 'codes.pt'):
        assert (out / name).is_file()
    assert 'Band-split codec trained through the full cascade' in proc.stdout
