"""The sweep's CPU-sized twin, for testing the grid machinery end to end (on a real SLURM cluster in
tests/slurm): the tiny cascade, the tiny joint run and a SEANet and a DAC baseline at 32 kHz, on the embedded
corpus, with two updates per epoch and one epoch per phase (about a minute each on 2 CPU cores). The jobs ask
SLURM for no GPU, one CPU and 2 GB each, in the partition of `use_cluster_partition`.

    dora grid bandsplit.debug --dry_run --init
"""

from ._explorers import BandSplitExplorer, use_cluster_partition
from .sweep import baseline_overrides, budget_epochs

N_Q = 4          # codebooks per branch of the tiny models
TINY = {
    'solver': 'bandsplit_codec/tiny',
    'optim.updates_per_epoch': 2, 'dataset.train.num_samples': 16, 'dataset.valid.num_samples': 8,
    'dataset.evaluate.num_samples': 4, 'dataset.generate.num_samples': 2,
    'cascade.branch_phase': 1, 'cascade.joint_phase': 1,
}


@BandSplitExplorer
def explorer(launcher):
    launcher.slurm_(gpus=0, cpus_per_gpu=1, mem_per_gpu=2, time=30)
    use_cluster_partition(launcher)
    launcher.bind_(TINY)
    epochs = budget_epochs(TINY['cascade.branch_phase'], TINY['cascade.joint_phase'])
    launcher({'cascade.regime': 'cascade'})
    launcher({'cascade.regime': 'joint', 'cascade.joint_phase': epochs})
    for name in ['seanet_32k', 'dac_32k']:
        launcher(baseline_overrides(name, N_Q, epochs))
