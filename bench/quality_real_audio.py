"""Quality at equal budget on real recorded audio: the band-split codec against the baselines.

1. **Audio.** `--folder DIR` takes every audio file under DIR (any format soundfile or PyAV reads). Without it,
   recorded music packaged by Debian is used: `--debian-package` (default `wesnoth-1.16-music`, the orchestral
   soundtrack of The Battle for Wesnoth, 44.1 kHz stereo Ogg Vorbis) is fetched with `apt-get download` and
   unpacked with `dpkg-deb -x` into the work folder; nothing is installed.
2. **Benchmark set.** Whole tracks are assigned to the evaluate, valid and train splits (ordered by a hash of
   their path, so the assignment is stable and no track lies in two splits); steps 1 and 2 are
   `bandsplit_audiocraft.data.music`'s. Every track is downmixed to mono and resampled to 32 kHz with julius;
   train tracks are written whole, evaluate and valid tracks as
   `--clips-per-track` clips of `--clip-seconds` taken at evenly spaced positions, as float WAV (no clipping
   of the decoder's or resampler's overshoot). One manifest per split.
3. **Training at equal budget.** The band-split codec (full cascade) and every model of `--models` are trained
   by `dora run` under the same solver (`--solver`, default the CPU-sized `bandsplit_codec/tiny`), the same data
   (`dset=folder`), batch, segment and number of updates (`bandsplit_audiocraft.baselines.matched_overrides`);
   extra dora overrides (e.g. `cascade.branch_phase=8`) set the budget for all. A killed run resumes: dora
   runs restart from their last checkpoint and finished steps are skipped.
4. **Report.** The models are exported and scored side by side by the evaluation report
   (`bandsplit_audiocraft.evaluation.report`) on the evaluate clips; the key figures go to stdout and, with the
   set's description, budget and training times, to the JSON of `--out`.

Usage::

    python bench/quality_real_audio.py                                  # Debian music, default budget
    python bench/quality_real_audio.py --folder ~/music cascade.branch_phase=8 cascade.joint_phase=8
    python bench/quality_real_audio.py --folder DIR --quick --out /tmp/q.json   # minimal budget (tests)
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time
import typing as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bandsplit_audiocraft.data.music import DEFAULT_PACKAGE, MusicSetError, prepare_set  # noqa: E402
from bandsplit_audiocraft.utils.dora import DoraRunError, experiment_folder, run_all  # noqa: E402
from bench.common import command_line, machine, write_result  # noqa: E402

# The default budget: 4 epochs of 100 updates per branch phase and for the joint phase (1200 updates of batch 8
# on 0.5 s segments for every model), validation and evaluation sized for the benchmark set.
DEFAULT_BUDGET = ['cascade.branch_phase=4', 'cascade.joint_phase=4']
QUICK_BUDGET = ['optim.updates_per_epoch=2', 'dataset.train.num_samples=16', 'cascade.branch_phase=1',
                'cascade.joint_phase=1', 'dataset.valid.num_samples=2', 'dataset.evaluate.num_samples=2',
                'dataset.generate.num_samples=1']
KEY_METRICS = ('mel_distance', 'stft_distance', 'si_sdr', 'sdr', 'visqol')


class BenchmarkError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


# Steps 1 and 2 (audio, benchmark set) are `bandsplit_audiocraft.data.music.prepare_set`'s, and training is
# `bandsplit_audiocraft.utils.dora.run_all`'s, shared with the reproduction command
# (`python -m bandsplit_audiocraft.reproduce`).


# ---- 4. report -------------------------------------------------------------------------------------------------

def key_figures(report: tp.Dict[str, tp.Any]) -> tp.Dict[str, tp.Dict[str, tp.Any]]:
    """Per model and operating point (sample rate): mean and 95% CI of the key metrics."""
    figures: tp.Dict[str, tp.Dict[str, tp.Any]] = {}
    for name, section in report['models'].items():
        figures[name] = {}
        for rate, point in section['operating_points'].items():
            aggregate = point['aggregate']
            figures[name][rate] = {m: aggregate[m] for m in KEY_METRICS if m in aggregate}
    return figures


def print_figures(figures: tp.Dict[str, tp.Dict[str, tp.Any]]) -> None:
    rates = sorted({rate for points in figures.values() for rate in points}, key=int, reverse=True)
    for rate in rates:
        print(f"\n{int(rate) / 1000:g} kHz output: mean [95% CI] over the evaluate clips")
        for name, points in figures.items():
            if rate not in points:
                continue
            cells = []
            for metric, agg in points[rate].items():
                mean, low, high = agg.get('mean'), agg.get('ci_low'), agg.get('ci_high')
                if mean is None:
                    continue
                ci = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ''
                cells.append(f"{metric} {mean:.3f}{ci}")
            print(f"  {name:11s} " + ', '.join(cells))


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--folder', type=Path, help="folder of real recordings (searched recursively)")
    source.add_argument('--debian-package', default=DEFAULT_PACKAGE,
                        help="Debian package of recorded audio to fetch when no --folder is given "
                        "(default: %(default)s)")
    parser.add_argument('--models', default='seanet_32k,dac_32k',
                        help="baselines trained beside the band-split codec (default: %(default)s)")
    parser.add_argument('--solver', default='bandsplit_codec/tiny')
    parser.add_argument('--max-tracks', type=int, default=None, help="use at most this many tracks")
    parser.add_argument('--clip-seconds', type=float, default=5.0, help="evaluate/valid clip length")
    parser.add_argument('--clips-per-track', type=int, default=4)
    parser.add_argument('--work', type=Path, default=REPO / 'outputs' / 'bench_audio',
                        help="folder for the downloaded audio, the set, the runs and the report")
    parser.add_argument('--quick', action='store_true', help="minimal budget and set (tests)")
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results' / 'quality_real_audio.json')
    parser.add_argument('overrides', nargs='*', help="dora overrides applied to every model (the budget)")
    args = parser.parse_args(argv)
    from bandsplit_audiocraft.baselines import BANDSPLIT, COMPARED, matched_overrides
    models = [BANDSPLIT, *[m.strip() for m in args.models.split(',') if m.strip() and m.strip() != 'none']]
    unknown = [m for m in models[1:] if m not in COMPARED or m == BANDSPLIT]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose among "
                     f"{', '.join(m for m in COMPARED if m != BANDSPLIT)}")
    if args.quick:
        args.clip_seconds, args.clips_per_track = min(args.clip_seconds, 2.0), 1
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    try:
        if args.folder is not None and not args.folder.is_dir():
            raise BenchmarkError(f"--folder {str(args.folder)!r} is not a folder.")
        data = prepare_set(work, folder=args.folder.resolve() if args.folder is not None else None,
                           package=args.debian_package, clip_seconds=args.clip_seconds,
                           clips_per_track=args.clips_per_track, max_tracks=args.max_tracks)
        dataset_root = Path(data['set'])
        given = {o.split('=', 1)[0] for o in args.overrides}
        budget = [o for o in (QUICK_BUDGET if args.quick else DEFAULT_BUDGET) if o.split('=', 1)[0] not in given]
        budget += args.overrides
        common = ['dset=folder', f'dataset_root={dataset_root}', *budget]
        dora_dir = work / 'dora'
        overrides = {m: matched_overrides(m, common, solver=args.solver) for m in models}
        try:  # one at a time, each with every core
            train_seconds = run_all(overrides, 1, dora_dir=dora_dir, logs={m: work / f'train_{m}.log' for m in models})
        except DoraRunError as error:
            raise BenchmarkError(str(error)) from None

        from bandsplit_audiocraft.evaluation.report import make_report
        from bandsplit_audiocraft.export import export_checkpoint
        exported = [export_checkpoint(experiment_folder(overrides[m], dora_dir), work / 'models' / f'{m}.th')
                    for m in models]
        report_dir = work / 'report'
        print(f"scoring {len(models)} models on {data['splits']['evaluate']['files']} evaluate clips", flush=True)
        command = command_line('bench/quality_real_audio.py', argv)
        report = make_report(exported, dataset_root / 'evaluate' / 'data.jsonl', report_dir, names=models,
                             command=command, examples=False)
    except (BenchmarkError, MusicSetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from bandsplit_audiocraft.configs import compose
    cfg = compose(overrides[BANDSPLIT])
    figures = key_figures(report)
    result = {
        'command': command, 'machine': machine(), 'source': data['source'], 'set': data['splits'],
        'data_set': data['set'], 'package': data['package'],
        'budget': {'solver': args.solver, 'overrides': budget, 'batch_size': int(cfg.dataset.batch_size),
                   'segment_seconds': float(cfg.dataset.segment_duration),
                   'updates_per_epoch': int(cfg.optim.updates_per_epoch)},
        'models': {m: {'overrides': overrides[m], 'train_seconds_this_run': train_seconds[m],
                       'parameters': report['models'][m]['info'].get('parameters'),
                       'bitrate_kbps': report['models'][m]['info'].get('bandwidth_kbps')} for m in models},
        'figures': figures, 'report': str(report_dir / 'report.md'), 'wall_seconds': round(time.time() - start, 1),
    }
    print_figures(figures)
    print(f"\nfull report: {report_dir / 'report.md'}")
    write_result(args.out, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
