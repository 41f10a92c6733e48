"""`dora grid bandsplit.debug` on a real SLURM cluster: a single-node cluster started on this machine
(`tests/slurm/cluster.py`, installing Debian's packages if needed), the grid submitted through submitit,
followed until every job is done; every XP must have completed its schedule and export a checkpoint that
audiocraft loads. Skipped where the machine cannot run SLURM (not Linux, not root, no apt-get or no mirror)."""
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import ANSI, table_rows
from tests.slurm import cluster as local_cluster

REPO = Path(__file__).resolve().parents[2]
GRID_TIMEOUT = 480  # seconds for the whole grid (4 XPs on 2 cores)
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def slurm():
    start = time.time()
    try:
        local_cluster.install()
        cluster = local_cluster.LocalSlurm().start()
    except local_cluster.Unavailable as err:
        pytest.skip(f"cannot run a local SLURM cluster here: {err}")
    print(f"local SLURM cluster up in {time.time() - start:.0f} s")
    try:
        yield cluster
    finally:
        cluster.stop()


def dora_grid(env: dict, *args: str, timeout: float) -> str:
    proc = subprocess.Popen([sys.executable, '-m', 'dora', 'grid', 'bandsplit.debug', *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"`dora grid` still waiting after {timeout:.0f} s:\n"
                             f"{out[-3000:]}\n{err[-3000:]}") from None
    assert proc.returncode == 0, err[-3000:]
    return ANSI.sub('', out)


def job_logs(dora_dir: Path) -> str:
    logs = sorted((dora_dir / 'xps').glob('*/submitit/*_log.out')) if (dora_dir / 'xps').exists() else []
    return '\n'.join(f"--- {log}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)


def test_debug_grid_runs_on_slurm(slurm, tmp_path, corpus_dir):
    from audiocraft.models import CompressionModel

    from bandsplit_audiocraft.export import export_checkpoint
    from bandsplit_audiocraft.solvers.schedule import Schedule
    from bandsplit_audiocraft.utils.checkpoints import load_training_checkpoint

    dora_dir = tmp_path / 'dora'
    env = {**os.environ, **slurm.env, 'AUDIOCRAFT_DORA_DIR': str(dora_dir), 'BANDSPLIT_CORPUS_DIR': str(corpus_dir)}
    start = time.time()
    try:
        # Submits the XPs through submitit, then follows them (every 6 s) until they are all done.
        dora_grid(env, '--interval', '0.1', timeout=GRID_TIMEOUT)
    except AssertionError:
        print(job_logs(dora_dir))
        print(slurm.logs('slurmctld', 'slurmd'))
        raise
    elapsed = time.time() - start
    table = dora_grid(env, '--no_monitoring', timeout=120)
    print(table)
    print(f"grid done in {elapsed:.0f} s")
    rows = table_rows(table)
    assert len(rows) == 4, table
    assert [state for _, state, _ in rows] == ['COM'] * len(rows), f"{table}\n{job_logs(dora_dir)}"

    # Every job went through SLURM and its accounting says it completed with exit code 0.
    states = slurm.job_states()
    assert len(states) == len(rows) and all(s == ('COMPLETED', '0:0') for s in states.values()), states
    assert not slurm.queue()

    for name, _, sig in rows:
        xp = dora_dir / 'xps' / sig
        assert list((xp / 'submitit').glob('*_log.out')), f"{name}: not run by submitit"
        state = load_training_checkpoint(xp / 'checkpoint.th')
        schedule = Schedule.from_experiment(state['xp.cfg'])
        assert len(state['history']) == schedule.total_epochs, name
        assert state['phase_state']['phase'] == schedule.phases[-1].name, name
        assert 'evaluate' in state['history'][-1], name
        # The table shows the XP's last evaluate metrics.
        line = next(line for line in table.splitlines() if sig in line)
        assert f"{state['history'][-1]['evaluate']['mel_distance']:.3f}" in line, line

        exported = export_checkpoint(xp, tmp_path / f'{sig}.th')
        model = CompressionModel.get_pretrained(str(exported))
        with torch.no_grad():
            codes, _ = model.encode(torch.zeros(1, 1, model.sample_rate // 10))
            assert model.decode(codes).shape == (1, 1, model.sample_rate // 10)
