"""Reproduce the paper's claims on real recorded music: every compared model trained on the same data for the same
number of updates, scored on the same held-out clips, each claim tested clip by clip.

    python -m bandsplit_audiocraft.reproduce                         # CPU: tiny models, the default budget
    python -m bandsplit_audiocraft.reproduce cascade.branch_phase=8 cascade.joint_phase=8   # a larger budget
    python -m bandsplit_audiocraft.reproduce --prepare-only          # build the data set only
    python -m bandsplit_audiocraft.reproduce --device cuda           # GPU: full-size models, all at once
    python -m bandsplit_audiocraft.reproduce --plan [--device cuda]  # print what would run, run nothing
    python -m bandsplit_audiocraft.reproduce --reduced --folder DIR  # minimal budget and set (tests)
    python -m bandsplit_audiocraft.reproduce --reduced --size full --folder DIR  # the GPU run's models, on CPU

1. **Data** (`data.music.prepare_set`): the Debian package `wesnoth-1.16-music` (recorded orchestral music;
   `--deb` reuses a downloaded `.deb`, `--folder` takes any folder of recordings instead), whole tracks assigned to
   evaluate, valid and train splits, 32 kHz mono, evaluate and valid tracks cut into clips of `--clip-seconds`. The
   package's licence statement is read from its copyright file and recorded.
2. **Models** (`reproduction.plan.MODELS`): the band-split codec trained in cascade and in the joint regime,
   single-branch SEANet at 32 kHz (the same width, and the width whose parameter count is closest to the band-split
   codec's), DAC at 32 kHz, SEANet and DAC at 16 kHz, all under the EnCodec-like recipe; the paper's pair
   (band-split codec with DAC branches, DAC at 32 kHz) under DAC's recipe. Every model trains for as many updates as
   the band-split cascade (`baselines.matched_budget`); the DAC recipe's runs take the other recipe's epoch length
   and phase lengths, so their cascade has the same length too. The budget is a list of dora overrides
   (`plan.CPU_BUDGET` for the tiny models, `plan.GPU_BUDGET` for the full-size ones, `plan.REDUCED_BUDGET` on top
   in reduced mode, and the ones given on the command line, which apply to every model). `--size` picks the tiny
   or the full-size models on either device (by default tiny on cpu, full on cuda).
3. **Training** (`reproduction.runs.train_all`): `dora run` for each model, `--jobs` at a time with
   `num_threads = cores // jobs` each; a killed run resumes from its last checkpoint when the command is run again,
   and finished models are kept. Each model's training time is the sum of its epochs' train stages in its history.
4. **Scoring** (`reproduction.runs.score_all`): each model is exported and scored by the evaluation report
   (`evaluation.report.make_report`) on the same evaluate clips, `--jobs` models at a time; the reports are merged
   into `<work>/report/report.md`.
5. **Claims** (`reproduction.claims`: `CLAIMS`, `assemble_claims`): every claim is the paired per-clip difference of
   two sets of values on the same clips (`statistics.paired_difference`), with its 95 % bootstrap interval, the
   number of clips and a verdict: held, not held, or inconclusive when the interval contains 0.
6. **Outputs**: a JSON file (`--json`, default `<work>/reproduction.json`) and a Markdown document (`--markdown`,
   default `<work>/REPRODUCTION.md`, `reproduction.document.render_markdown`); a `--device cuda` run writes them,
   its logs, models and reports under `<work>/cuda`, a run of another device and size under `<work>/<device>_<size>`
   (the data set and the experiments stay shared). `--render-from`
   rewrites the Markdown of an earlier run's JSON, and `--gpu-result` adds a GPU run's rows to it.
"""

import argparse
from collections.abc import Sequence
import datetime
import json
import os
from pathlib import Path
import shlex
import sys
import time

from .baselines import TRAINING_ONLY
from .data.music import DEFAULT_PACKAGE, MusicSetError, prepare_set, set_folder
from .reproduction.claims import CLAIM_GROUPS, CLAIMS, assemble_claims
from .reproduction.document import number, render_markdown
from .reproduction.plan import (
    BOOTSTRAP_RESAMPLES,
    BUDGETS,
    CLAIM_METRICS,
    CLIP_SECONDS,
    CLIPS_PER_TRACK,
    DEFAULT_MODELS,
    DEFAULT_SIZE,
    DEVICES,
    MODELS,
    PROG,
    REDUCED_BUDGET,
    REDUCED_RESAMPLES,
    REDUCED_SET,
    SOLVERS,
    ReproductionError,
    Run,
    deduplicated,
    make_plan,
)
from .reproduction.runs import merge_reports, score_all, train_all
from .utils.dora import REPO, DoraRunError

# ---- command line ----------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=DEVICES, default='cpu',
                        help="cpu: tiny models (default); cuda: full-size models, all trained at once on one GPU")
    parser.add_argument('--size', choices=sorted(SOLVERS), help="the models' size and budget: tiny (CPU-sized, "
                        "the default on cpu) or full (the default on cuda); with --reduced, --size full runs the GPU "
                        "run's models and budget for a few updates on any device")
    parser.add_argument('--models', default=','.join(DEFAULT_MODELS),
                        help=f"comma-separated models among {', '.join(MODELS)} (default: all but dac_16k_dac_recipe)")
    parser.add_argument('--jobs', type=int, help="models trained (and scored) at a time (default: 2 on cpu, "
                        "every model on cuda)")
    parser.add_argument('--work', type=Path, default=REPO / 'outputs' / 'reproduce',
                        help="folder of the audio, the set, the runs, the models and the report (default: %(default)s)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--folder', type=Path, help="folder of recordings to use instead of the Debian package")
    source.add_argument('--debian-package', default=DEFAULT_PACKAGE, help="Debian package of recorded music "
                        "(default: %(default)s)")
    parser.add_argument('--deb', type=Path, help="an already downloaded .deb of the package, or the folder holding it")
    parser.add_argument('--max-tracks', type=int, help="use at most this many tracks")
    parser.add_argument('--clip-seconds', type=float, help=f"evaluate and valid clip length (default: {CLIP_SECONDS:g};"
                        f" {REDUCED_SET['clip_seconds']:g} with --reduced)")
    parser.add_argument('--clips-per-track', type=int, help=f"clips per evaluate or valid track (default: "
                        f"{CLIPS_PER_TRACK}; {REDUCED_SET['clips_per_track']} with --reduced)")
    parser.add_argument('--metrics', help=f"comma-separated metrics of the comparisons (default: "
                        f"{','.join(CLAIM_METRICS)}; without visqol with --reduced)")
    parser.add_argument('--bootstrap-resamples', type=int, help=f"resamples of every interval (default: "
                        f"{BOOTSTRAP_RESAMPLES}; {REDUCED_RESAMPLES} with --reduced)")
    parser.add_argument('--reduced', action='store_true', help="minimal budget and set, no ViSQOL (tests)")
    parser.add_argument('--plan', '--dry-run', action='store_true', dest='plan',
                        help="print the runs (models, overrides, parameters, updates) and exit without training")
    parser.add_argument('--prepare-only', action='store_true', help="build the data set and exit")
    parser.add_argument('--json', type=Path, help="result file (default: <work>/reproduction.json, "
                        "<work>/cuda/reproduction.json on cuda)")
    parser.add_argument('--markdown', type=Path, help="document (default: <work>/REPRODUCTION.md, "
                        "<work>/cuda/REPRODUCTION.md on cuda)")
    parser.add_argument('--render-from', type=Path, metavar='JSON',
                        help="write the Markdown of an earlier run's JSON and exit")
    parser.add_argument('--gpu-result', type=Path, metavar='JSON',
                        help="JSON of a --device cuda run, shown in the document's GPU section")
    parser.add_argument('overrides', nargs='*', help="dora overrides applied to every model (the budget), e.g. "
                        "cascade.branch_phase=8 cascade.joint_phase=8")
    return parser


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Validate the command line (exit 2 with a message on a bad value) and fill in the mode's defaults."""
    args.models = [name.strip() for name in args.models.split(',') if name.strip()]
    unknown = [name for name in args.models if name not in MODELS]
    if unknown or not args.models:
        parser.error(f"unknown model(s) {', '.join(unknown) or '(none given)'}; choose among {', '.join(MODELS)}")
    if len(set(args.models)) != len(args.models):
        parser.error(f"--models names a model twice: {', '.join(args.models)}")
    args.size = args.size or DEFAULT_SIZE[args.device]
    if args.jobs is None:
        args.jobs = len(args.models) if args.device == 'cuda' else 2
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    for name in ('max_tracks', 'clips_per_track', 'bootstrap_resamples'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.max_tracks is not None and args.max_tracks < 3:
        parser.error(f"--max-tracks must be at least 3 (one track per split), got {args.max_tracks}")
    if args.clip_seconds is not None and not args.clip_seconds > 0:
        parser.error(f"--clip-seconds must be positive, got {args.clip_seconds}")
    if args.folder is not None and not args.folder.is_dir():
        parser.error(f"--folder {str(args.folder)!r} is not a folder")
    if args.deb is not None and not args.deb.exists():
        parser.error(f"--deb {str(args.deb)!r} does not exist")
    for path in (args.render_from, args.gpu_result):
        if path is not None and not path.is_file():
            parser.error(f"{str(path)!r} is not a file")
    bad = [override for override in args.overrides if '=' not in override]
    if bad:
        parser.error(f"{' '.join(bad)}: not a dora override (key=value), e.g. cascade.branch_phase=8")
    defaults = REDUCED_SET if args.reduced else {'clip_seconds': CLIP_SECONDS, 'clips_per_track': CLIPS_PER_TRACK}
    args.clip_seconds = args.clip_seconds if args.clip_seconds is not None else defaults['clip_seconds']
    args.clips_per_track = args.clips_per_track or defaults['clips_per_track']
    args.bootstrap_resamples = args.bootstrap_resamples or (REDUCED_RESAMPLES if args.reduced else BOOTSTRAP_RESAMPLES)
    from .evaluation.metrics import resolve_metrics
    default_metrics = [m for m in CLAIM_METRICS if not (args.reduced and m == 'visqol')]
    try:
        args.metrics = resolve_metrics(args.metrics or default_metrics)
    except ValueError as error:
        parser.error(str(error))
    if args.device == 'cuda' and not (args.plan or args.prepare_only or args.render_from):
        import torch
        if not torch.cuda.is_available():
            parser.error("--device cuda was asked for but CUDA is not available here; use --device cpu, or --plan "
                         "to see the GPU runs")


def _budget_overrides(args: argparse.Namespace) -> list[str]:
    """The size's budget, the reduced mode's on top of it, then the command line's overrides (a key given later
    replaces the earlier one)."""
    return deduplicated([*BUDGETS[args.size], *(REDUCED_BUDGET if args.reduced else []), *args.overrides])


def _print_plan(runs: Sequence[Run], args: argparse.Namespace, dataset_root: Path, threads: int) -> None:
    print(f"{PROG}: {len(runs)} {args.size} model(s) on {args.device}, {args.jobs} at a time with {threads} "
          f"thread(s) each; data set {dataset_root}")
    print(f"{'model':20s} {'parameters':>12s} {'kbps':>5s} {'updates':>8s}  batch x segment")
    for run in runs:
        r = run.row
        print(f"{run.name:20s} {r['parameters']:12,d} {r['kbps']:5g} {r['updates']:8d}  {r['batch_size']} x "
              f"{r['segment_seconds']:g} s")
        if run.width:
            print(f"{'':20s} seanet.n_filters={run.width['n_filters']} ({run.width['parameters']:,} parameters; "
                  f"{run.width['target']}: {run.width['target_parameters']:,})")
    print("\ncommands:")
    for run in runs:
        print(f"  python -m dora run {shlex.join(run.overrides)}")


def read_result(path: Path) -> dict:
    """The content of a result file this command wrote (`--json`).

    Raises:
        ReproductionError: The file is not such a result.
    """
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReproductionError(f"Cannot read {str(path)!r} as JSON: {error}.") from None
    required = ('command', 'date', 'device', 'machine', 'data', 'budget', 'models', 'metrics', 'claims',
                'claim_groups', 'wall_seconds')
    missing = [key for key in required if not isinstance(result, dict) or key not in result]
    if missing:
        raise ReproductionError(f"{str(path)!r} is not a result of {PROG} (no {', '.join(missing)}).")
    return result


def _write(path: Path, text: str) -> None:
    from .utils.atomic import atomic_write_bytes
    atomic_write_bytes(path, text.encode(), overwrite=True)
    print(f"written to {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 on success, 1 when a step fails, 2 on bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    work = args.work.resolve()
    # Each device and size keeps its models and reports apart; the default ones keep their places.
    results = {('cpu', 'tiny'): work, ('cuda', 'full'): work / 'cuda'}.get((args.device, args.size),
                                                                          work / f'{args.device}_{args.size}')
    json_path = args.json or results / 'reproduction.json'
    markdown_path = args.markdown or results / 'REPRODUCTION.md'
    gpu = None
    if args.render_from is not None or args.gpu_result is not None:
        try:
            gpu = read_result(args.gpu_result) if args.gpu_result else None
            if args.render_from is not None:
                _write(markdown_path, render_markdown(read_result(args.render_from), gpu))
                return 0
        except ReproductionError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    command = shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)])
    began = time.time()
    from .utils.machine import machine
    described_machine = machine()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    folder = args.folder.resolve() if args.folder is not None else None
    source = {'folder': str(folder)} if folder is not None else {'debian_package': args.debian_package}
    dataset_root = set_folder(work, source, args.clip_seconds, args.clips_per_track, args.max_tracks)
    budget = _budget_overrides(args)
    shared = ['dset=folder', f'dataset_root={dataset_root}', *budget]
    try:
        if args.plan:
            _print_plan(make_plan(args.models, shared, args.size), args, dataset_root, threads)
            return 0
        work.mkdir(parents=True, exist_ok=True)
        data = prepare_set(work, folder=folder, package=args.debian_package, deb=args.deb,
                           clip_seconds=args.clip_seconds, clips_per_track=args.clips_per_track,
                           max_tracks=args.max_tracks)
        print(f"data set {data['set']}: " + ', '.join(f"{split} {entry['files']} file(s), {entry['seconds']:.0f} s"
                                                      for split, entry in data['splits'].items()), flush=True)
        if args.prepare_only:
            return 0
        runs = make_plan(args.models, shared, args.size)
        launch = [f'num_threads={threads}', f'device={args.device}', *TRAINING_ONLY]
        env = {'PYTORCH_CUDA_ALLOC_CONF': 'expandable_segments:True'} if args.device == 'cuda' else None
        train_all(runs, work / 'dora', results / 'logs', args.jobs, launch, env)

        from .export import export_checkpoint
        checkpoints = {run.name: export_checkpoint(run.record['experiment'], results / 'models' / f'{run.name}.th')
                       for run in runs}
        manifest = Path(data['set']) / 'evaluate' / 'data.jsonl'
        print(f"scoring {len(runs)} model(s) on {data['splits']['evaluate']['files']} evaluate clips "
              f"({', '.join(args.metrics)})", flush=True)
        reports = score_all(checkpoints, manifest, results / 'report', args.metrics, args.device,
                            args.bootstrap_resamples, args.jobs, threads)
        baseline = 'bandsplit' if 'bandsplit' in args.models else args.models[0]
        report = merge_reports(reports, results / 'report', command, baseline, args.bootstrap_resamples)
    except (ReproductionError, MusicSetError, DoraRunError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume (finished models and scores are kept)",
              file=sys.stderr)
        return 130
    rows, not_tested = assemble_claims(report, CLAIMS, args.bootstrap_resamples)
    result = {
        'command': command, 'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        'device': args.device, 'size': args.size, 'reduced': args.reduced, 'machine': described_machine, 'data': data,
        'budget': {'overrides': budget, 'solvers': SOLVERS[args.size], 'jobs': args.jobs,
                   'threads_per_job': threads, 'launch': launch},
        'models': {run.name: {'what': run.model.what, 'recipe': run.model.recipe,
                              'solver': SOLVERS[args.size][run.model.recipe], 'overrides': run.overrides,
                              'parameters': report['models'][run.name]['info']['parameters'],
                              'kbps': report['models'][run.name]['info']['bandwidth_kbps'],
                              'sample_rate': run.row['sample_rate'], 'updates': run.row['updates'],
                              'phases': run.row['phases'], 'batch_size': run.row['batch_size'],
                              'segment_seconds': run.row['segment_seconds'], 'width': run.width, **run.record}
                   for run in runs},
        'metrics': list(args.metrics), 'bootstrap_resamples': args.bootstrap_resamples,
        'evaluate_clips': report['data']['num_clips'], 'report': str(results / 'report' / 'report.md'),
        'claim_groups': CLAIM_GROUPS, 'claims': rows, 'claims_not_tested': not_tested,
        'gpu_result': str(args.gpu_result) if args.gpu_result else None,
        'wall_seconds': round(time.time() - began, 1),
    }
    from .utils.atomic import atomic_write_bytes
    atomic_write_bytes(json_path, (json.dumps(result, indent=2, allow_nan=False) + '\n').encode(), overwrite=True)
    print(f"written to {json_path}")
    _write(markdown_path, render_markdown(result, gpu))
    for row in rows:
        print(f"({row['group']}) {row['statement']}, {row['measure']}: {number(row['mean'])} "
              f"[{number(row['ci_low'])}, {number(row['ci_high'])}] n={row['n']} -> {row['verdict']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
