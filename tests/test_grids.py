"""`dora grid ... --dry_run --init` lists the XPs the grid files define."""
import os
from pathlib import Path
import re
import subprocess
import sys

import pytest

from grids.bandsplit import sweep

REPO = Path(__file__).resolve().parent.parent
ANSI = re.compile(r'\x1b\[[0-9;]*m')


def dry_run(grid: str, dora_dir: Path) -> list:
    env = {**os.environ, 'AUDIOCRAFT_DORA_DIR': str(dora_dir)}
    out = subprocess.run([sys.executable, '-m', 'dora', 'grid', grid, '--dry_run', '--init'], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = []
    for line in ANSI.sub('', out.stdout).splitlines():
        match = re.match(r'^\s*(\d+)\s+(.*?)\s+N/A\s+([0-9a-f]{8})\s', line)
        if match:
            rows.append((match.group(2).strip(), match.group(3)))
    return rows


@pytest.mark.slow
def test_sweep_lists_both_regimes_all_operating_points_and_baselines(tmp_path):
    rows = dry_run('bandsplit.sweep', tmp_path)
    per_point = len(sweep.BRANCH_PHASES) + 1 + 2  # cascades, joint, two single-branch baselines
    assert len(rows) == len(sweep.CODEBOOKS_PER_BRANCH) * per_point
    assert len({sig for _, sig in rows}) == len(rows)
    names = [name for name, _ in rows]
    assert sum('regime=joint' in n for n in names) == len(sweep.CODEBOOKS_PER_BRANCH)
    assert sum('low.enabled=False' in n for n in names) == len(sweep.CODEBOOKS_PER_BRANCH)  # 32 kHz baselines
    assert sum('sample_rate=16000' in n for n in names) == len(sweep.CODEBOOKS_PER_BRANCH)  # 16 kHz baselines
    # Registered XPs exist on disk with their config.
    assert len(list((tmp_path / 'xps').iterdir())) == len(rows)


@pytest.mark.slow
def test_debug_grid(tmp_path):
    rows = dry_run('bandsplit.debug', tmp_path)
    assert len(rows) == 3
