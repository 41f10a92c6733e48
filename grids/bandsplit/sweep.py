"""The paper's experiment table as a grid: cascade vs joint training, codebooks per branch (bitrate), phase
lengths, and the single-branch baselines at matched bitrate. SLURM resources come from `slurm.*` in the
config (override them with `slurm.gpus=...` etc. on the command line or in `launcher.slurm_`).

    dora grid bandsplit.sweep --dry_run --init   # list and register the XPs
    dora grid bandsplit.sweep                    # launch them on SLURM
"""

from ._explorers import BandSplitExplorer

DATASET = {'dset': 'musdb18'}
CODEBOOKS_PER_BRANCH = [2, 4, 8]   # 1, 2 and 4 kbps per 50 Hz branch: 2, 4 and 8 kbps at 32 kHz
BRANCH_PHASES = [100, 200]         # epochs of each single-branch phase of the cascade
JOINT_PHASE = 50                   # epochs of the joint phase (cascade) / of the whole joint run


def branch_codebooks(n_q: int) -> dict:
    return {'bandsplit.branches.low.rvq.n_q': n_q, 'bandsplit.branches.high.rvq.n_q': n_q}


@BandSplitExplorer
def explorer(launcher):
    launcher.slurm_(gpus=1, mem_per_gpu=40)
    launcher.bind_({'solver': 'bandsplit_codec', **DATASET})
    for n_q in CODEBOOKS_PER_BRANCH:
        sub = launcher.bind(branch_codebooks(n_q))
        for branch_phase in BRANCH_PHASES:
            sub({'cascade.regime': 'cascade', 'cascade.branch_phase': branch_phase,
                 'cascade.joint_phase': JOINT_PHASE})
        sub({'cascade.regime': 'joint', 'cascade.joint_phase': 2 * max(BRANCH_PHASES) + JOINT_PHASE})
        # Single-branch baselines at the same bitrates, trained for as many epochs as the longest cascade.
        epochs = 2 * max(BRANCH_PHASES) + JOINT_PHASE
        launcher({'model': 'bandsplit/single_32k', 'bandsplit.branches.high.rvq.n_q': 2 * n_q,
                  'cascade.joint_phase': epochs})
        launcher({'model': 'bandsplit/single_16k', 'sample_rate': 16000, 'bandsplit.branches.low.rvq.n_q': n_q,
                  'cascade.joint_phase': epochs})
