"""Training cost: seconds per update of every cascade phase, of the joint regime and of the baselines.

Every figure comes from a real `dora run` of the project's solver (same batch, segment, losses and data for
all models) with short phases of `--updates` updates: the train stage's duration of each epoch (recorded by
the solver in `history.json`) divided by its number of updates. The first epoch of each phase is left out
(it holds the k-means initialisation of the codebooks that start training there); the figure of a phase is the
median over its other epochs.

Runs:
- `cascade`: the band-split codec through its cascade (low; high with low frozen; joint);
- `joint`: the band-split codec trained jointly from the start;
- `seanet_32k`, `dac_32k`: the single-branch baselines at the same bitrate.

It then compares the whole cascade with a baseline trained for the same number of updates: the sum of the
phases' costs against the baseline's cost per update times the cascade's updates.

Usage::

    python bench/training_cost.py                          # tiny CPU config, 3 epochs of 20 updates per phase
    python bench/training_cost.py --solver bandsplit_codec --updates 50   # full size (GPU machine)
    python bench/training_cost.py --quick --out /tmp/x.json   # 2 epochs of 2 updates (tests)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import statistics
import sys
import tempfile
import time
import typing as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import command_line, machine, write_result  # noqa: E402

BASELINES = ('seanet_32k', 'dac_32k')
RUNS = ('cascade', 'joint', *BASELINES)

PHASE_NAMES = {'cascade': ['low', 'high', 'joint']}


def overrides_for(name: str, args: argparse.Namespace) -> tp.List[str]:
    batch = 8
    common = [f'optim.updates_per_epoch={args.updates}',
              f'dataset.batch_size={batch}', f'dataset.train.num_samples={args.updates * batch}',
              'dataset.valid.num_samples=4', 'dataset.evaluate.num_samples=2', 'dataset.generate.num_samples=1',
              'cascade.unit=epochs', f'cascade.branch_phase={args.epochs}', f'cascade.joint_phase={args.epochs}',
              f'num_threads={args.threads}']
    from bandsplit_audiocraft.baselines import BANDSPLIT, TRAINING_ONLY, matched_overrides
    common += TRAINING_ONLY  # only the train stages are timed
    if args.corpus_dir:
        common.append(f'corpus_dir={args.corpus_dir}')
    if name in BASELINES:  # one phase as long as the whole cascade
        return matched_overrides(name, common, solver=args.solver)
    cascade = matched_overrides(BANDSPLIT, common, solver=args.solver)
    if name == 'joint':  # the joint regime, as long as the cascade's two branch phases and joint phase
        return [*cascade, 'cascade.regime=joint', f'cascade.joint_phase={3 * args.epochs}']
    return cascade


def run(name: str, args: argparse.Namespace, dora_dir: Path) -> tp.Dict[str, tp.Any]:
    from bandsplit_audiocraft.utils.dora import dora_run
    overrides = overrides_for(name, args)
    start = time.time()
    dora_run(overrides, dora_dir=dora_dir / name, env={'OMP_NUM_THREADS': str(args.threads)},
             log=dora_dir / f'{name}.log')
    wall = time.time() - start
    xps = list((dora_dir / name / 'xps').iterdir())
    history = json.loads((xps[0] / 'history.json').read_text())
    phases: tp.Dict[str, tp.List[float]] = {}
    order: tp.List[str] = []
    for entry in history:
        names = PHASE_NAMES.get(name, ['joint'])  # the solver logs the phase's index
        phase = names[int(entry['train']['phase'])]
        if phase not in phases:
            order.append(phase)
            phases[phase] = []
        phases[phase].append(entry['train']['duration'] / args.updates)
    per_phase = {}
    for phase in order:
        steady = phases[phase][1:] or phases[phase]  # leave out the phase's first epoch (k-means init)
        per_phase[phase] = {'seconds_per_update': statistics.median(steady), 'epochs': len(phases[phase]),
                            'all_epochs': phases[phase]}
    total_updates = len(history) * args.updates
    train_seconds = sum(e['train']['duration'] for e in history)
    return {'overrides': overrides, 'phases': per_phase, 'updates': total_updates,
            'train_seconds': train_seconds, 'wall_seconds': wall}


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--solver', default='bandsplit_codec/tiny')
    parser.add_argument('--updates', type=int, default=20, help="updates per epoch")
    parser.add_argument('--epochs', type=int, default=3, help="epochs per cascade phase")
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--corpus-dir', help="embedded corpus folder (default: generated under outputs/)")
    parser.add_argument('--quick', action='store_true', help="2 epochs of 2 updates per phase (tests)")
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'training_cost.json'))
    args = parser.parse_args(argv)
    if args.quick:
        args.updates, args.epochs = 2, 2
    dora_dir = Path(tempfile.mkdtemp(prefix='training_cost_', dir=REPO / 'outputs' if (REPO / 'outputs').is_dir()
                                     else None))
    start = time.time()
    try:
        runs = {name: run(name, args, dora_dir) for name in RUNS}
    finally:
        shutil.rmtree(dora_dir, ignore_errors=True)
    cascade = runs['cascade']
    cascade_cost = sum(p['seconds_per_update'] * p['epochs'] * args.updates for p in cascade['phases'].values())
    comparison = {}
    for name in ('seanet_32k', 'dac_32k', 'joint'):
        per_update = statistics.median(p['seconds_per_update'] for p in runs[name]['phases'].values())
        comparison[name] = {'seconds_per_update': per_update, 'same_updates_seconds': per_update * cascade['updates'],
                            'cascade_over_this': cascade_cost / (per_update * cascade['updates'])}
    result = {
        'command': command_line('bench/training_cost.py', argv),
        'machine': machine(),
        'solver': args.solver, 'updates_per_epoch': args.updates, 'epochs_per_phase': args.epochs,
        'batch_size': 8, 'runs': runs,
        'cascade_total_seconds': cascade_cost, 'cascade_updates': cascade['updates'], 'comparison': comparison,
        'wall_seconds': time.time() - start,
    }
    print(f"seconds per update ({args.solver}, batch 8, {args.updates} updates per epoch, median of steady epochs)")
    for name, r in runs.items():
        phases = ', '.join(f"{phase} {p['seconds_per_update']:.3f}" for phase, p in r['phases'].items())
        print(f"  {name:11s} {phases}")
    print(f"full cascade: {cascade_cost:.1f} s for {cascade['updates']} updates")
    for name, c in comparison.items():
        print(f"  vs {name:11s} for the same updates: {c['same_updates_seconds']:.1f} s -> cascade costs "
              f"{c['cascade_over_this']:.2f}x")
    write_result(args.out, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
