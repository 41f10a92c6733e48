"""The paper's experiment table as a grid: cascade vs joint training, codebooks per branch (bitrate), phase
lengths, and every baseline of `bandsplit_audiocraft.baselines` (SEANet and DAC, at 32 kHz with the total
bitrate and at 16 kHz with the low branch's) at each operating point, trained for as many epochs as the
longest cascade, all with the EnCodec recipe (`solver=bandsplit_codec`). Then the paper's own comparison:
the band-split codec with DAC branches against DAC retrained at 32 kHz (4 kbps) and at 16 kHz (2 kbps), all
with DAC's recipe and its schedule (`solver=bandsplit_codec/dac_recipe`), the baselines as long as the
cascade. SLURM resources (GPUs, memory, time, partition) come from `slurm.*` in the config, as in
audiocraft; override them on the command line (`dora grid bandsplit.sweep -g 8 -p my_partition`).

    dora grid bandsplit.sweep --dry_run --init   # list and register the XPs
    dora grid bandsplit.sweep                    # launch them on SLURM and follow their metrics
"""

import typing as tp

from bandsplit_audiocraft.baselines import BANDSPLIT, COMPARED
from bandsplit_audiocraft.solvers.schedule import Schedule

from ._explorers import BandSplitExplorer, use_cluster_partition

SOLVER = 'bandsplit_codec'
PAPER_SOLVER = 'bandsplit_codec/dac_recipe'   # its default model is the paper's codec, model=bandsplit/dac
PAPER_BASELINES = ['dac_32k', 'dac_16k']
DATASET = {'dset': 'musdb18'}
BRANCHES = ['low', 'high']
CODEBOOKS_PER_BRANCH = [2, 4, 8]   # 1, 2 and 4 kbps per 50 Hz branch: 2, 4 and 8 kbps at 32 kHz
BRANCH_PHASES = [100, 200]         # epochs of each single-branch phase of the cascade
JOINT_PHASE = 50                   # epochs of the joint phase of the cascade
BASELINES = [name for name in COMPARED if name != BANDSPLIT]

# Codebooks of each baseline at the operating point with `n_q` codebooks per band-split branch: the
# 32 kHz baselines get the band-split codec's total, the 16 kHz ones its low branch's.
BASELINE_CODEBOOKS: tp.Dict[str, tp.Callable[[int], tp.Dict[str, int]]] = {
    'seanet_32k': lambda n_q: {'bandsplit.branches.high.rvq.n_q': 2 * n_q},
    'seanet_16k': lambda n_q: {'bandsplit.branches.low.rvq.n_q': n_q},
    'dac_32k': lambda n_q: {'bandsplit.branches.high.dac.n_codebooks': 2 * n_q},
    'dac_16k': lambda n_q: {'bandsplit.branches.low.dac.n_codebooks': n_q},
}


def branch_codebooks(n_q: int) -> dict:
    return {f'bandsplit.branches.{name}.rvq.n_q': n_q for name in BRANCHES}


def paper_budget_epochs() -> int:
    """Epochs of the DAC recipe's cascade, with its default phase lengths."""
    from bandsplit_audiocraft.configs import compose
    cascade = compose([f'solver={PAPER_SOLVER}']).cascade
    return budget_epochs(int(cascade.branch_phase), int(cascade.joint_phase))


def budget_epochs(branch_phase: int = max(BRANCH_PHASES), joint_phase: int = JOINT_PHASE) -> int:
    """Epochs of the cascade with these phase lengths: the budget of the joint run and of the baselines."""
    cascade = {'regime': 'cascade', 'unit': 'epochs', 'branch_phase': branch_phase, 'joint_phase': joint_phase}
    return Schedule.from_config(cascade, BRANCHES, updates_per_epoch=1, lr=1.).total_epochs


def baseline_overrides(name: str, n_q: int, epochs: int) -> list:
    """Overrides of baseline `name` (its entry of `COMPARED`) at `n_q` codebooks per branch, for `epochs`."""
    return [*COMPARED[name], {**BASELINE_CODEBOOKS[name](n_q), 'cascade.joint_phase': epochs}]


@BandSplitExplorer
def explorer(launcher):
    use_cluster_partition(launcher)
    launcher.bind_(DATASET)
    encodec_recipe = launcher.bind({'solver': SOLVER})
    epochs = budget_epochs()
    for n_q in CODEBOOKS_PER_BRANCH:
        sub = encodec_recipe.bind(branch_codebooks(n_q))
        for branch_phase in BRANCH_PHASES:
            sub({'cascade.regime': 'cascade', 'cascade.branch_phase': branch_phase,
                 'cascade.joint_phase': JOINT_PHASE})
        sub({'cascade.regime': 'joint', 'cascade.joint_phase': epochs})
        for name in BASELINES:
            encodec_recipe(baseline_overrides(name, n_q, epochs))
    dac_recipe = launcher.bind({'solver': PAPER_SOLVER})
    dac_recipe()  # the paper's codec: two DAC branches, 4 + 4 codebooks, DAC's schedule
    paper_epochs = paper_budget_epochs()
    for name in PAPER_BASELINES:
        dac_recipe([*COMPARED[name], {'cascade.joint_phase': paper_epochs}])
