"""A CPU-sized grid for testing the grid machinery end to end: the tiny cascade, the tiny joint run and the
tiny single-branch baseline on the embedded corpus, a few minutes each.

    dora grid bandsplit.debug --dry_run --init
"""

from ._explorers import BandSplitExplorer


@BandSplitExplorer
def explorer(launcher):
    launcher.slurm_(gpus=0, mem_per_gpu=4, time=60, cpus_per_gpu=2)
    launcher.bind_({'solver': 'bandsplit_codec/tiny', 'optim.updates_per_epoch': 10, 'dataset.train.num_samples': 80,
                    'cascade.branch_phase': 1, 'cascade.joint_phase': 1})
    launcher({'cascade.regime': 'cascade'})
    launcher({'cascade.regime': 'joint'})
    launcher({'model': 'bandsplit/single_32k'})
