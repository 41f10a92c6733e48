"""The compared models of the reproduction, their budgets, and the `dora run` overrides that train them on the
same data for the same number of updates."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from omegaconf import OmegaConf

from ..baselines import COMPARED, describe_run, matched_budget

PROG = 'python -m bandsplit_audiocraft.reproduce'

# ---- models --------------------------------------------------------------------------------------------------------

SOLVERS: dict[str, dict[str, str]] = {
    'tiny': {'seanet': 'bandsplit_codec/tiny', 'dac': 'bandsplit_codec/dac_recipe_tiny'},
    'full': {'seanet': 'bandsplit_codec', 'dac': 'bandsplit_codec/dac_recipe'},
}
"""Solver of each recipe at each model size: the CPU-sized networks ('tiny') and the full-size ones ('full')."""
DEVICES = ('cpu', 'cuda')
DEFAULT_SIZE = {'cpu': 'tiny', 'cuda': 'full'}
"""The model size each device trains unless told otherwise."""


@dataclass(frozen=True)
class Model:
    """One compared model.

    Attributes:
        name: Its name in the outputs.
        recipe: 'seanet' (the EnCodec-like recipe, `solver=bandsplit_codec[/tiny]`) or 'dac' (DAC's recipe,
            `solver=bandsplit_codec/dac_recipe[_tiny]`).
        overrides: What it adds to its recipe (model config, regime).
        cascade: Whether it trains through the band-split cascade; otherwise it is one phase as long as the cascade.
        what: One line saying what it is.
        width_of: Name of the model whose parameter count its SEANet width (`seanet.n_filters`) is chosen to match.
    """
    name: str
    recipe: str
    overrides: tuple[str, ...]
    cascade: bool
    what: str
    width_of: str | None = None


MODELS: dict[str, Model] = {model.name: model for model in [
    Model('bandsplit', 'seanet', (), True,
          "band-split codec, SEANet/RVQ branches (16 kHz + 32 kHz residual), cascade"),
    Model('bandsplit_joint', 'seanet', ('cascade.regime=joint',), False,
          "the same codec trained in the joint regime (all branches from the first update)"),
    Model('seanet_32k', 'seanet', tuple(COMPARED['seanet_32k']), False,
          "one SEANet/RVQ branch at 32 kHz, the band-split branches' width"),
    Model('seanet_32k_params', 'seanet', tuple(COMPARED['seanet_32k']), False,
          "one SEANet/RVQ branch at 32 kHz, width chosen to match bandsplit's parameter count", width_of='bandsplit'),
    Model('dac_32k', 'seanet', tuple(COMPARED['dac_32k']), False, "DAC's architecture at 32 kHz"),
    Model('seanet_16k', 'seanet', tuple(COMPARED['seanet_16k']), False, "one SEANet/RVQ branch at 16 kHz"),
    Model('dac_16k', 'seanet', tuple(COMPARED['dac_16k']), False, "DAC's architecture at 16 kHz"),
    Model('bandsplit_dac', 'dac', ('model=bandsplit/dac',), True,
          "the paper's codec: band-split with DAC branches, cascade, DAC's recipe"),
    Model('dac_32k_dac_recipe', 'dac', tuple(COMPARED['dac_32k']), False, "DAC at 32 kHz, DAC's recipe"),
    Model('dac_16k_dac_recipe', 'dac', tuple(COMPARED['dac_16k']), False, "DAC at 16 kHz, DAC's recipe"),
]}
DEFAULT_MODELS = tuple(name for name in MODELS if name != 'dac_16k_dac_recipe')
"""The models trained by default; `dac_16k_dac_recipe` (for the optional 16 kHz row of the paper's pair) is
trained when named in `--models`."""

# ---- budgets ---------------------------------------------------------------------------------------------------

CPU_BUDGET = ['cascade.branch_phase=3', 'cascade.joint_phase=3']
# The tiny models' budget, the CPU default: 3 epochs of the tiny recipe's 100 updates per phase, 900 updates for
# every model (batch 8 of 0.5 s; batch 4 of 0.25 s under the DAC recipe), so that the default models train and are
# scored within 2.5 hours on 2 cores; REPRODUCTION.md records the time a run of this command took.
GPU_BUDGET = ['cascade.unit=updates', 'cascade.branch_phase=70', 'cascade.joint_phase=60',
              'optim.updates_per_epoch=100', 'dataset.batch_size=8', 'dataset.train.num_samples=800',
              'dataset.valid.num_samples=16', 'dataset.evaluate.num_samples=8', 'dataset.generate.num_samples=4',
              'dataset.num_workers=1', 'checkpoint.keep_last=1']
# The full-size models' budget, the GPU default: 200 updates of batch 8 x 0.38 s each, every model trained at the
# same time on one GPU. The size is an estimate, not yet measured: it is meant to let the default models train and be
# scored within 10 minutes on one H200 (the GPU's time shared by all the runs; batch 8 so that the DAC-architecture
# models, the largest, fit in its memory together).
REDUCED_BUDGET = ['optim.updates_per_epoch=2', 'dataset.train.num_samples=16', 'cascade.branch_phase=1',
                  'cascade.joint_phase=1', 'dataset.valid.num_samples=2', 'dataset.evaluate.num_samples=2',
                  'dataset.generate.num_samples=1']
# The reduced mode (tests), on top of the size's budget: a few updates per model (6 for the tiny models, 3 under the
# full-size models' count in updates), clips of 2 s, no ViSQOL, fewer bootstrap resamples.
BUDGETS = {'tiny': CPU_BUDGET, 'full': GPU_BUDGET}
REDUCED_SET = {'clip_seconds': 2.0, 'clips_per_track': 3}
REDUCED_RESAMPLES = 999

CLIP_SECONDS = 5.0
CLIPS_PER_TRACK = 12
# With the Wesnoth soundtrack's 6 evaluate tracks, 12 clips of 5 s per track (fewer from short tracks) give more
# than 60 evaluate clips.
CLAIM_METRICS = ('mel_distance', 'stft_distance', 'waveform_l1', 'si_sdr', 'visqol')
"""The metrics of the paper's comparisons (`evaluation.metrics.METRICS`); ViSQOL is left out in reduced mode."""
BOOTSTRAP_RESAMPLES = 9999


class ReproductionError(RuntimeError):
    """A step of the reproduction failed; the message says which and what to do."""


# ---- plan ------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One model's training run: its `dora run` overrides and what its config builds (`baselines.describe_run`)."""
    model: Model
    overrides: list[str]
    row: dict
    width: dict | None = None
    record: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.name


def recipe_alignment(shared: Sequence[str], size: str) -> list[str]:
    """Overrides giving the DAC recipe the EnCodec-like recipe's epoch length and phase lengths under `shared`, so
    that its cascade lasts as many updates (its batch keeps its own size; its epoch has as many samples as updates
    times batch). Only the values that differ from the DAC recipe's own are returned."""
    from ..configs import compose
    reference = compose([f"solver={SOLVERS[size]['seanet']}", *shared])
    dac = compose([f"solver={SOLVERS[size]['dac']}", *shared])
    updates = int(reference.optim.updates_per_epoch)
    wanted = {'optim.updates_per_epoch': updates, 'dataset.train.num_samples': updates * int(dac.dataset.batch_size),
              'cascade.unit': reference.cascade.unit, 'cascade.branch_phase': reference.cascade.branch_phase,
              'cascade.joint_phase': reference.cascade.joint_phase}
    return [f'{key}={value}' for key, value in wanted.items() if OmegaConf.select(dac, key) != value]


def deduplicated(overrides: Sequence[str]) -> list[str]:
    """`overrides` with only the last of several values of one key (the one Hydra applies), in order."""
    seen: set[str] = set()
    kept = []
    for override in reversed(overrides):
        key = override.split('=', 1)[0]
        if key not in seen:
            seen.add(key)
            kept.append(override)
    return kept[::-1]


def run_overrides(model: Model, shared: Sequence[str], size: str, extra: Sequence[str] = ()) -> list[str]:
    """The `dora run` overrides of `model`: its recipe's solver, the `shared` data and budget, what it adds, and
    for a one-phase model a joint phase as long as its recipe's cascade."""
    solver = SOLVERS[size][model.recipe]
    shared = deduplicated([*shared, *(recipe_alignment(shared, size) if model.recipe == 'dac' else [])])
    added = [*model.overrides, *extra]
    overrides = [f'solver={solver}', *shared, *added] if model.cascade else matched_budget(added, shared, solver)
    return deduplicated(overrides)


def matching_width(target: int, overrides: Sequence[str]) -> dict:
    """The SEANet width (`seanet.n_filters`, an integer) whose model, built from `overrides` plus the width, has
    the parameter count closest to `target`: `{'n_filters', 'parameters', 'default_n_filters'}`."""
    from ..configs import compose
    default = int(compose(overrides).seanet.n_filters)
    counts: dict[int, int] = {}

    def count(width: int) -> int:
        if width not in counts:
            counts[width] = describe_run('width', [*overrides, f'seanet.n_filters={width}'])['parameters']
        return counts[width]

    low, high = default, default
    while count(high) < target:  # parameters grow with the width: bracket the target, then bisect
        low, high = high, high * 2
    while low > 1 and count(low) >= target:
        low, high = max(1, low // 2), low
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    best = min((low, high), key=lambda width: (abs(count(width) - target), width))
    return {'n_filters': best, 'parameters': count(best), 'default_n_filters': default}


def make_plan(names: Sequence[str], shared: Sequence[str], size: str) -> list[Run]:
    """The runs of the models `names` at model size `size` ('tiny' or 'full') under the `shared` overrides (data and
    budget).

    Raises:
        ReproductionError: The models would not train for the same number of updates.
    """
    runs: list[Run] = []
    described: dict[str, dict] = {}
    for name in names:
        model = MODELS[name]
        width = None
        extra: list[str] = []
        if model.width_of is not None:
            reference = described.get(model.width_of) or describe_run(
                model.width_of, run_overrides(MODELS[model.width_of], shared, size))
            width = matching_width(reference['parameters'], run_overrides(model, shared, size))
            width.update(target=model.width_of, target_parameters=reference['parameters'])
            extra = [f"seanet.n_filters={width['n_filters']}"]
        overrides = run_overrides(model, shared, size, extra)
        described[name] = describe_run(name, overrides)
        runs.append(Run(model, overrides, described[name], width))
    updates = {run.name: run.row['updates'] for run in runs}
    if len(set(updates.values())) > 1:
        raise ReproductionError(f"The models would not train for the same number of updates: {updates}. Give the "
                                f"budget as overrides every recipe reads (cascade.*, optim.updates_per_epoch).")
    return runs
