"""The training schedule of a band-split codec: which branches learn at which update.

The paper trains its branches in *cascade*:

1. phase `low`: branch 1 alone, on `D_1(x)`;
2. phase `k` (one per higher branch): branch `k` on the residual left by the frozen lower branches,
   scored on the reconstruction at its rate (for the top branch: the full-band output);
3. phase `joint`: every branch, branch losses averaged, at its own (lower) learning rate.

The *joint* regime, the natural ablation, is a single `joint` phase from the first update.

A schedule is plain data: an ordered list of `Phase`s covering consecutive ranges of updates. The solver
asks `phase_at(update)` at every step, so where training stops and resumes does not matter: a run restarted
from a checkpoint is in the phase its update count says.

Example:
    >>> s = Schedule.from_config({'regime': 'cascade', 'unit': 'epochs', 'branch_phase': 2, 'joint_phase': 1,
    ...                           'joint_lr': 5e-5}, ['low', 'high'], updates_per_epoch=10, lr=1e-4)
    >>> [(p.name, p.start, p.end, p.trained) for p in s.phases]
    [('low', 0, 20, (0,)), ('high', 20, 40, (1,)), ('joint', 40, 50, (0, 1))]
    >>> s.phase_at(25).name
    'high'
"""

from dataclasses import dataclass
import math
import typing as tp

REGIMES = ('cascade', 'joint')
UNITS = ('epochs', 'updates')


@dataclass(frozen=True)
class Phase:
    """One phase of training.

    Attributes:
        index (int): Position in the schedule.
        name (str): Branch name for single-branch phases, `joint` for the joint phase.
        start (int): First update of the phase (0-based, global over the run).
        end (int): One past its last update.
        trained (tuple of int): Indices of the branches that learn; every other branch is frozen (weights,
            codebooks and discriminators).
        lr (float): Learning rate at the first update of the phase.
        lr_decay (float): Factor on the learning rate after every update of the phase (1: constant).
    """
    index: int
    name: str
    start: int
    end: int
    trained: tp.Tuple[int, ...]
    lr: float
    lr_decay: float = 1.

    def lr_at(self, update: int) -> float:
        """Learning rate of the 0-based global `update`, which lies in this phase."""
        return self.lr * self.lr_decay ** (update - self.start)

    @property
    def num_branches(self) -> int:
        """Branches the phase needs to run: the highest trained one and everything below it."""
        return max(self.trained) + 1

    @property
    def averaged(self) -> bool:
        """Whether the losses of several branches are averaged."""
        return len(self.trained) > 1


def lr_decay_per_update(schedule_cfg: tp.Any) -> float:
    """Learning-rate decay per update of the `schedule` config block: `exponential` or none."""
    scheduler = schedule_cfg.get('lr_scheduler') if schedule_cfg is not None else None
    if scheduler is None:
        return 1.
    if scheduler != 'exponential':
        raise ValueError(f"schedule.lr_scheduler must be null or exponential for the band-split solver, got "
                         f"{scheduler!r}: the learning rate follows the cascade's phases.")
    return float(schedule_cfg.exponential.lr_decay)


class Schedule:
    """Ordered, contiguous phases covering updates `[0, total_updates)`."""

    def __init__(self, phases: tp.Sequence[Phase], updates_per_epoch: int):
        assert phases and all(prev.end == nxt.start for prev, nxt in zip(phases, phases[1:])), phases
        self.phases = list(phases)
        self.updates_per_epoch = updates_per_epoch

    @property
    def total_updates(self) -> int:
        return self.phases[-1].end

    @property
    def total_epochs(self) -> int:
        return math.ceil(self.total_updates / self.updates_per_epoch)

    def phase_at(self, update: int) -> Phase:
        """Phase of the 0-based global `update`; updates past the end belong to the last phase."""
        for phase in self.phases:
            if update < phase.end:
                return phase
        return self.phases[-1]

    def phase_of_epoch(self, epoch: int) -> Phase:
        """Phase of the first update of the 1-based `epoch`."""
        return self.phase_at((epoch - 1) * self.updates_per_epoch)

    def describe(self) -> str:
        return '; '.join(f"{p.name}: updates [{p.start}, {p.end}) branches {list(p.trained)} lr {p.lr:g}"
                         + (f" x {p.lr_decay:g} per update" if p.lr_decay != 1 else '') for p in self.phases)

    @classmethod
    def from_experiment(cls, cfg: tp.Any) -> 'Schedule':
        """The schedule a composed experiment config trains: its branches (`bandsplit.branches`), `cascade`
        block, `optim.updates_per_epoch` and `optim.lr`, and the learning-rate decay of its `schedule` block."""
        from ..models.builders import branch_layout
        names = [name for name, _ in branch_layout(cfg)]
        return cls.from_config(cfg.cascade, names, cfg.optim.updates_per_epoch, float(cfg.optim.lr),
                               lr_decay_per_update(cfg.get('schedule')))

    @staticmethod
    def from_config(cfg: tp.Mapping[str, tp.Any], branch_names: tp.Sequence[str], updates_per_epoch: int,
                    lr: float, lr_decay: float = 1.) -> 'Schedule':
        """Build the schedule of the `cascade` config block (see config/solver/bandsplit_codec.yaml).

        Args:
            cfg: with keys `regime`, `unit`, `branch_phase`, `joint_phase`, `joint_lr`.
            branch_names: names of the branches, lowest rate first.
            updates_per_epoch: training updates in one epoch.
            lr: base learning rate (single-branch phases and the joint regime).
            lr_decay: exponential decay of the learning rate per update, restarted at every phase (each
                phase of the cascade is a training run of its own).
        """
        regime = cfg.get('regime', 'cascade')
        unit = cfg.get('unit', 'epochs')
        if regime not in REGIMES:
            raise ValueError(f"cascade.regime must be one of {REGIMES}, got {regime!r}.")
        if unit not in UNITS:
            raise ValueError(f"cascade.unit must be one of {UNITS}, got {unit!r}.")
        if not isinstance(updates_per_epoch, int) or updates_per_epoch <= 0:
            raise ValueError(f"optim.updates_per_epoch must be a positive integer (the schedule counts updates), "
                             f"got {updates_per_epoch!r}.")
        if not 0 < lr_decay <= 1:
            raise ValueError(f"The learning rate decay per update must lie in (0, 1], got {lr_decay!r}.")
        scale = updates_per_epoch if unit == 'epochs' else 1

        def length(key: str) -> int:
            value = cfg.get(key)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"cascade.{key} must be a non-negative integer ({unit}), got {value!r}.")
            return value * scale

        all_branches = tuple(range(len(branch_names)))
        phases: tp.List[Phase] = []
        start = 0
        joint_lr = float(lr)
        if regime == 'cascade' and len(branch_names) > 1:  # with one branch the cascade is the joint regime
            branch_len = length('branch_phase')
            if branch_len > 0:
                for k, name in enumerate(branch_names):
                    phases.append(Phase(len(phases), str(name), start, start + branch_len, (k,), float(lr),
                                        float(lr_decay)))
                    start += branch_len
            joint_lr = float(cfg.get('joint_lr') or lr)
        joint_len = length('joint_phase')
        if joint_len > 0 or not phases:
            if joint_len == 0:
                raise ValueError("The schedule is empty: set cascade.joint_phase (or cascade.branch_phase) > 0.")
            phases.append(Phase(len(phases), 'joint', start, start + joint_len, all_branches, joint_lr,
                                float(lr_decay)))
        return Schedule(phases, updates_per_epoch)
