"""The compared models: the band-split codec and its single-branch baselines, with matched training budgets.

Every model is a config of the same solver (`dora run solver=... model=...`), so the baselines are trained
by the same code path, losses, discriminators, data and optimizer as the band-split codec:

| name        | model config               | what                                                      |
|-------------|----------------------------|-----------------------------------------------------------|
| bandsplit   | the solver's default model | 16 kHz branch + 32 kHz residual branch (SEANet/RVQ branches, |
|             |                            | or DAC branches under solver=bandsplit_codec/dac_recipe)  |
| seanet_32k  | model=bandsplit/single_32k | one SEANet/RVQ branch at 32 kHz, same total bitrate       |
| seanet_16k  | model=bandsplit/single_16k | one SEANet/RVQ branch at 16 kHz, the low branch's bitrate |
| dac_32k     | model=bandsplit/dac_32k    | DAC (descript-audio-codec) at 32 kHz, same total bitrate  |
| dac_16k     | model=bandsplit/dac_16k    | DAC at 16 kHz, the low branch's bitrate                   |

A baseline has one branch, so its schedule is a single joint phase; `matched_overrides` sets its length to
the band-split cascade's total (all single-branch phases plus the joint phase), so that every model sees
the same number of updates of the same batch and segment length; `matched_budget` does the same for any
one-phase run (the joint regime, a baseline of another width). `describe_run` describes the model and budget
of any overrides.

`python -m bandsplit_audiocraft.baselines [--solver bandsplit_codec/tiny] [overrides...]` prints the table
of the compared models (parameters, sample rate, frame rate, codebooks, bitrate, training budget), built
from the configs themselves.
"""

import argparse
import json
import sys
import typing as tp

from .solvers.schedule import Schedule

BANDSPLIT = 'bandsplit'
COMPARED: tp.Dict[str, tp.List[str]] = {
    BANDSPLIT: [],
    'seanet_32k': ['model=bandsplit/single_32k'],
    'seanet_16k': ['model=bandsplit/single_16k', 'sample_rate=16000'],
    'dac_32k': ['model=bandsplit/dac_32k'],
    'dac_16k': ['model=bandsplit/dac_16k', 'sample_rate=16000'],
}
DEFAULT_SOLVER = 'bandsplit_codec'
TRAINING_ONLY = ['evaluate.last_epoch=false', 'generate.last_epoch=false']
"""Overrides that leave out the solver's own evaluate and generate stages at the last epoch, for runs whose models
are scored apart (the reproduction scores the exported models itself; in a CPU run of the full-size DAC-branch
codec those stages took 69 s) or whose training alone is timed. Neither changes an experiment's signature."""


def matched_overrides(name: str, overrides: tp.Sequence[str] = (), solver: str = DEFAULT_SOLVER) -> tp.List[str]:
    """Overrides training model `name` with the band-split cascade's budget under `solver` + `overrides`.

    For the band-split codec this is `solver` + `overrides`; for a baseline, its model config and a joint
    phase as long as the whole cascade (in the cascade's unit).
    """
    if name not in COMPARED:
        raise KeyError(f"Unknown model {name!r}; compared models: {', '.join(COMPARED)}.")
    base = [f'solver={solver}', *overrides]
    if name == BANDSPLIT:
        return base
    return matched_budget(COMPARED[name], overrides, solver)


def matched_budget(model: tp.Sequence[str], overrides: tp.Sequence[str] = (),
                   solver: str = DEFAULT_SOLVER) -> tp.List[str]:
    """Overrides training a one-phase run, `model` (a model config, `cascade.regime=joint`, a width...), for as
    many updates as the band-split cascade under `solver` + `overrides`: the run's joint phase lasts the whole
    cascade (in the cascade's unit)."""
    from .configs import compose
    base = [f'solver={solver}', *overrides]
    cfg = compose(base)
    schedule = Schedule.from_experiment(cfg)
    unit = cfg.cascade.get('unit', 'epochs')
    length = schedule.total_updates // schedule.updates_per_epoch if unit == 'epochs' else schedule.total_updates
    return [*base, *model, f'cascade.joint_phase={length}']


def describe(name: str, overrides: tp.Sequence[str] = (), solver: str = DEFAULT_SOLVER) -> tp.Dict[str, tp.Any]:
    """One row of the comparison table: the model built from its config, and its training budget."""
    matched = matched_overrides(name, overrides, solver)
    row = describe_run(name, matched)
    row['overrides'] = matched[1 + len(overrides):]  # what the model adds to the shared overrides
    return row


def describe_run(name: str, overrides: tp.Sequence[str]) -> tp.Dict[str, tp.Any]:
    """The row of `describe` for the run of any `dora run` overrides (`overrides`: all of them, solver included),
    shown as `name`."""
    from .configs import compose
    from .models.builders import get_bandsplit_model
    cfg = compose(overrides)
    cfg.device = 'cpu'
    model = get_bandsplit_model(cfg)
    schedule = Schedule.from_experiment(cfg)
    parameters = sum(p.numel() for p in model.parameters())
    return {
        'name': name,
        'overrides': list(overrides),
        'architecture': '+'.join(b.architecture for b in model.branches),
        'parameters': parameters,
        'params_m': parameters / 1e6,
        'branch_params_m': [sum(p.numel() for p in b.parameters()) / 1e6 for b in model.branches],
        'sample_rate': model.sample_rate,
        'branch_rates': list(model.branch_rates),
        'frame_rate': float(model.frame_rate),
        'codebooks_per_branch': list(model.codebooks_per_branch),
        'codebook_size': int(model.cardinality),
        'kbps': float(model.bandwidth),
        'updates': schedule.total_updates,
        'phases': [p.name for p in schedule.phases],
        'batch_size': int(cfg.dataset.batch_size),
        'segment_seconds': float(cfg.dataset.segment_duration),
    }


def markdown_table(rows: tp.Sequence[tp.Dict[str, tp.Any]]) -> str:
    header = ('| model | architecture | params (M) | sample rate | frame rate | codebooks | kbps | updates '
              '(phases) | batch x segment |')
    lines = [header, '|' + '---|' * header.count(' | ') + '---|']
    for r in rows:
        codebooks = ' + '.join(str(k) for k in r['codebooks_per_branch'])
        lines.append(f"| {r['name']} | {r['architecture']} | {r['params_m']:.2f} | {r['sample_rate'] / 1000:g} kHz "
                     f"| {r['frame_rate']:g} Hz | {codebooks} x {r['codebook_size']} | {r['kbps']:g} | "
                     f"{r['updates']} ({', '.join(r['phases'])}) | {r['batch_size']} x {r['segment_seconds']:g} s |")
    return '\n'.join(lines)


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bandsplit_audiocraft.baselines', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--solver', default=DEFAULT_SOLVER, help="solver config (default: %(default)s; "
                        "bandsplit_codec/tiny for the CPU-sized models)")
    parser.add_argument('--models', default=','.join(COMPARED), help="comma-separated subset of the models")
    parser.add_argument('--json', action='store_true', help="print JSON rows instead of a Markdown table")
    parser.add_argument('overrides', nargs='*', help="overrides applied to every model, e.g. cascade.branch_phase=10")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(',') if n.strip()]
    unknown = [n for n in names if n not in COMPARED]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose among {', '.join(COMPARED)}")
    rows = [describe(name, args.overrides, args.solver) for name in names]
    print(json.dumps(rows, indent=2) if args.json else markdown_table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
