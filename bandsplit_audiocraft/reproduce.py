"""Reproduce the paper's claims on real recorded music: every compared model trained on the same data for the same
number of updates, scored on the same held-out clips, each claim tested clip by clip.

    python -m bandsplit_audiocraft.reproduce                         # CPU: tiny models, the default budget
    python -m bandsplit_audiocraft.reproduce cascade.branch_phase=8 cascade.joint_phase=8   # a larger budget
    python -m bandsplit_audiocraft.reproduce --prepare-only          # build the data set only
    python -m bandsplit_audiocraft.reproduce --device cuda           # GPU: full-size models, all at once
    python -m bandsplit_audiocraft.reproduce --plan [--device cuda]  # print what would run, run nothing
    python -m bandsplit_audiocraft.reproduce --reduced --folder DIR  # minimal budget and set (tests)

1. **Data** (`data.music`): the Debian package `wesnoth-1.16-music` (recorded orchestral music; `--deb` reuses a
   downloaded `.deb`, `--folder` takes any folder of recordings instead), whole tracks assigned to evaluate, valid
   and train splits, 32 kHz mono, evaluate and valid tracks cut into clips of `--clip-seconds`. The package's
   licence statement is read from its copyright file and recorded.
2. **Models** (`reproduction.plan.MODELS`): the band-split codec trained in cascade and in the joint regime,
   single-branch SEANet at 32 kHz (the same width, and the width whose parameter count is closest to the band-split
   codec's), DAC at 32 kHz, SEANet and DAC at 16 kHz, all under the EnCodec-like recipe; the paper's pair
   (band-split codec with DAC branches, DAC at 32 kHz) under DAC's recipe. Every model trains for as many updates as
   the band-split cascade (`baselines.matched_budget`); the DAC recipe's runs take the other recipe's epoch length
   and phase lengths, so their cascade has the same length too. The budget is a list of dora overrides
   (`plan.CPU_BUDGET`, `plan.GPU_BUDGET`, `plan.REDUCED_BUDGET`, or the ones given on the command line, which apply
   to every model).
3. **Training**: `dora run` for each model, `--jobs` at a time with `num_threads = cores // jobs` each; a killed run
   resumes from its last checkpoint when the command is run again, and finished models are kept. Each model's
   training time is the sum of its epochs' train stages in its history.
4. **Scoring**: each model is exported and scored by the evaluation report (`evaluation.report.make_report`) on the
   same evaluate clips, `--jobs` models at a time; the reports are merged into `<work>/report/report.md`.
5. **Claims** (`reproduction.claims`: `CLAIMS`, `assemble_claims`): every claim is the paired per-clip difference of
   two sets of values on the same clips (`statistics.paired_difference`), with its 95 % bootstrap interval, the
   number of clips and a verdict: held, not held, or inconclusive when the interval contains 0.
6. **Outputs**: a JSON file (`--json`, default `<work>/reproduction.json`) and a Markdown document (`--markdown`,
   default `<work>/REPRODUCTION.md`, `reproduction.document.render_markdown`); a `--device cuda` run writes them,
   its logs, models and reports under `<work>/cuda` (the data set and the experiments stay shared). `--render-from`
   rewrites the Markdown of an earlier run's JSON, and `--gpu-result` adds a GPU run's rows to it.
"""

import argparse
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
import datetime
import hashlib
import json
import multiprocessing
import os
from pathlib import Path
import shlex
import sys
import time
import typing as tp

from .data.music import (
    COMPLETE,
    DEFAULT_PACKAGE,
    SAMPLE_RATE,
    MusicSetError,
    assign_splits,
    build_set,
    describe_package,
    fetch_debian_package,
    find_tracks,
    relocate_set,
)
from .reproduction.claims import CLAIM_GROUPS, CLAIMS, assemble_claims
from .reproduction.document import number, render_markdown
from .reproduction.plan import (
    BOOTSTRAP_RESAMPLES,
    CLAIM_METRICS,
    CLIP_SECONDS,
    CLIPS_PER_TRACK,
    CPU_BUDGET,
    DEFAULT_MODELS,
    GPU_BUDGET,
    MODELS,
    PROG,
    REDUCED_BUDGET,
    REDUCED_RESAMPLES,
    REDUCED_SET,
    SOLVERS,
    ReproductionError,
    Run,
    experiment_folder,
    history,
    make_plan,
    set_folder,
    total_epochs,
)
from .utils.dora import REPO, DoraRun, DoraRunError, finish, kill, start

# ---- training --------------------------------------------------------------------------------------------------

def train_all(runs: Sequence[Run], dora_dir: Path, logs: Path, jobs: int, launch: Sequence[str],
              env: Mapping[str, str] | None = None, poll: float = 2.0) -> None:
    """Train every run not finished yet with `dora run`, `jobs` at a time (with the extra overrides `launch`), and
    fill each run's `record`: experiment folder, epochs, training seconds (summed from its history), whether it
    was trained before this call, the wall seconds of this call and whether it resumed an interrupted run. A
    failed run does not stop the others.

    Raises:
        ReproductionError: Some run failed (after the others ended); the message quotes the end of its log.
    """
    pending: list[tuple[Run, Path]] = []
    for run in runs:
        folder = experiment_folder(run.overrides, dora_dir)
        run.record.update(experiment=str(folder), epochs=total_epochs(run.overrides))
        done = len(history(folder))
        run.record['trained_before'] = done >= run.record['epochs']
        if run.record['trained_before']:
            print(f"{run.name}: trained already ({folder})", flush=True)
        else:
            run.record['resumed'] = done > 0
            pending.append((run, folder))
    running: dict[str, tuple[Run, DoraRun, float]] = {}
    failures: list[str] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                run, folder = pending.pop(0)
                print(f"training {run.name}: dora run {shlex.join([*run.overrides, *launch])}", flush=True)
                running[run.name] = (run, start([*run.overrides, *launch], dora_dir=dora_dir, env=env,
                                                log=logs / f'{run.name}.log'), time.time())
            time.sleep(poll)
            for name, (run, proc, began) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                try:
                    finish(proc)
                except DoraRunError as error:
                    failures.append(f"{name}: {error}")
                    print(f"training {name} failed; its log: {proc.log}", flush=True)
                    continue
                run.record['wall_seconds_this_invocation'] = round(time.time() - began, 1)
                print(f"{name}: trained in {run.record['wall_seconds_this_invocation']:.0f} s", flush=True)
    except BaseException:
        for _, proc, _ in running.values():
            kill(proc)
        raise
    for run in runs:
        stages = history(Path(run.record['experiment']))
        run.record['train_seconds'] = round(sum(h.get('train', {}).get('duration', 0.) for h in stages), 1)
        run.record['stage_seconds'] = round(sum(stage.get('duration', 0.) for h in stages for stage in h.values()
                                                if isinstance(stage, dict)), 1)
    if failures:
        raise ReproductionError("Training failed for " + "; ".join(failures) + "\nRun the same command again to "
                                "resume: finished models are kept.")


# ---- scoring ---------------------------------------------------------------------------------------------------

def scoring_stamp(checkpoint: str, manifest: str, metrics: Sequence[str], device: str, resamples: int) -> dict:
    """What a model's scores depend on: its weights (`export.model_id`), the clips, the metrics, the device and the
    resamples; kept beside its report, so that the same scoring is not done twice."""
    from .export import model_id
    return {'model': model_id(checkpoint).hex(), 'manifest': manifest, 'metrics': list(metrics), 'device': device,
            'resamples': resamples}


def scored_report(out: Path, stamp: Mapping) -> dict | None:
    """The report in `out` if it was made with `stamp`, else None."""
    done, report = out / 'scored.json', out / 'report.json'
    if done.is_file() and report.is_file() and json.loads(done.read_text()) == stamp:
        return json.loads(report.read_text())
    return None


def score_model(name: str, checkpoint: str, manifest: str, out: str, metrics: Sequence[str], device: str,
                resamples: int, threads: int, stamp: Mapping) -> dict:
    """Score one exported model on the clips of `manifest` (read at the set's rate) with the evaluation report in
    `out`, and mark it with `stamp`; returns the report's content. Runs in a worker process."""
    import torch

    from .evaluation.dataset import load_evaluation_set
    from .evaluation.report import make_report
    torch.set_num_threads(threads)
    dataset = load_evaluation_set(manifest, SAMPLE_RATE, channels=1)
    report = make_report([checkpoint], dataset, out, names=[name], metrics=list(metrics), device=device,
                         examples=False, progress=False, bootstrap_resamples=resamples,
                         command=f"{PROG} (scoring {name} on {manifest})")
    (Path(out) / 'scored.json').write_text(json.dumps(stamp))
    return report


def score_all(checkpoints: Mapping[str, Path], manifest: Path, out: Path, metrics: Sequence[str], device: str,
              resamples: int, jobs: int, threads: int) -> dict[str, dict]:
    """Every model's report (`score_model`, in `out/<name>`): those scored before with the same stamp are read
    back, the others scored `jobs` at a time in worker processes."""
    reports: dict[str, tp.Any] = {}
    todo = {}
    for name, path in checkpoints.items():
        stamp = scoring_stamp(str(path), str(manifest), metrics, device, resamples)
        reports[name] = scored_report(out / name, stamp)
        if reports[name] is None:
            todo[name] = (str(path), str(manifest), str(out / name), list(metrics), device, resamples, threads, stamp)
    if todo:
        context = multiprocessing.get_context('spawn')
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
            futures = {name: pool.submit(score_model, name, *args) for name, args in todo.items()}
            reports.update({name: future.result() for name, future in futures.items()})
    return reports


def merge_reports(reports: Mapping[str, Mapping], out: Path, command: str, baseline: str | None,
                  resamples: int) -> dict:
    """One report with every model's section (the reports of `score_model`, on the same clips), with paired
    differences against `baseline`; written as `out/report.json` and `out/report.md`."""
    from .evaluation.markdown import render_markdown
    from .evaluation.report import paired_against
    from .utils.atomic import atomic_write_bytes
    first = next(iter(reports.values()))
    clips = [clip['name'] for clip in first['data']['clips']]
    sections = {}
    for name, report in reports.items():
        if [clip['name'] for clip in report['data']['clips']] != clips:
            raise ReproductionError(f"{name} was scored on other clips than {next(iter(reports))}; delete "
                                    f"{out / name} and run again.")
        section = dict(report['models'][name])
        if section.get('figure'):
            section['figure'] = f"{name}/{section['figure']}"
        sections[name] = section
    merged = {**first, 'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
              'command': command, 'models': sections,
              'paired': paired_against(sections, baseline, first['metrics'], resamples)
              if baseline in sections and len(sections) > 1 else None}
    merged['files'] = {'report_md': str(out / 'report.md'), 'report_json': str(out / 'report.json'),
                       'figures': [str(out / entry['figure']) for entry in sections.values() if entry['figure']],
                       'examples': []}
    atomic_write_bytes(out / 'report.json', (json.dumps(merged, indent=2, allow_nan=False) + '\n').encode(),
                       overwrite=True)
    atomic_write_bytes(out / 'report.md', render_markdown(merged).encode(), overwrite=True)
    return merged


# ---- data ------------------------------------------------------------------------------------------------------

def prepare_data(work: Path, folder: Path | None, package: str, deb: Path | None, clip_seconds: float,
                 clips_per_track: int, max_tracks: int | None) -> dict:
    """Build (or find) the data set: `{'set', 'source', 'package', 'sample_rate', 'clip_seconds',
    'clips_per_track', 'splits'}`, also kept as `<set>/source.json`, so that a set prepared elsewhere is used
    without its source."""
    source = {'folder': str(folder)} if folder is not None else {'debian_package': package}
    out = set_folder(work, source, clip_seconds, clips_per_track, max_tracks)
    described = out / 'source.json'
    if described.is_file() and (out / COMPLETE).is_file():
        relocate_set(out)
        return {**json.loads(described.read_text()), 'set': str(out)}
    if folder is not None:
        root, info = folder, None
    else:
        root = fetch_debian_package(package, work, deb)
        info = describe_package(root, package)
    tracks = find_tracks(root, min_seconds=clip_seconds)
    if max_tracks is not None:
        tracks = sorted(tracks, key=lambda t: hashlib.sha1(str(t[0].relative_to(root)).encode()).hexdigest())
        tracks = tracks[:max_tracks]
    splits = assign_splits([path for path, _ in tracks], root)
    print(f"{len(tracks)} tracks ({sum(seconds for _, seconds in tracks) / 60:.1f} min); building the set in {out}",
          flush=True)
    summary = build_set(splits, out, clip_seconds, clips_per_track)
    data = {'set': str(out), 'source': source, 'package': info, 'sample_rate': SAMPLE_RATE,
            'clip_seconds': clip_seconds, 'clips_per_track': clips_per_track, 'max_tracks': max_tracks,
            'splits': {split: {'tracks': len(entry['tracks']),
                               'track_names': [Path(track).stem for track in entry['tracks']],
                               'files': entry['files'], 'seconds': entry['seconds']}
                       for split, entry in summary.items()}}
    described.write_text(json.dumps(data, indent=2))
    return data


# ---- command line ----------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=sorted(SOLVERS), default='cpu',
                        help="cpu: tiny models (default); cuda: full-size models, all trained at once on one GPU")
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
    """The mode's budget with the command line's overrides on top (a key given there replaces the mode's)."""
    base = REDUCED_BUDGET if args.reduced else GPU_BUDGET if args.device == 'cuda' else CPU_BUDGET
    given = {override.split('=', 1)[0] for override in args.overrides}
    return [o for o in base if o.split('=', 1)[0] not in given] + list(args.overrides)


def _print_plan(runs: Sequence[Run], args: argparse.Namespace, dataset_root: Path, threads: int) -> None:
    print(f"{PROG}: {len(runs)} model(s) on {args.device}, {args.jobs} at a time with {threads} thread(s) each; "
          f"data set {dataset_root}")
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
    results = work / 'cuda' if args.device == 'cuda' else work  # a GPU run keeps its models and reports apart
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
            _print_plan(make_plan(args.models, shared, args.device), args, dataset_root, threads)
            return 0
        work.mkdir(parents=True, exist_ok=True)
        data = prepare_data(work, folder, args.debian_package, args.deb, args.clip_seconds, args.clips_per_track,
                            args.max_tracks)
        print(f"data set {data['set']}: " + ', '.join(f"{split} {entry['files']} file(s), {entry['seconds']:.0f} s"
                                                      for split, entry in data['splits'].items()), flush=True)
        if args.prepare_only:
            return 0
        runs = make_plan(args.models, shared, args.device)
        launch = [f'num_threads={threads}', f'device={args.device}']
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
        'device': args.device, 'reduced': args.reduced, 'machine': described_machine, 'data': data,
        'budget': {'overrides': budget, 'solvers': SOLVERS[args.device], 'jobs': args.jobs,
                   'threads_per_job': threads, 'launch': launch},
        'models': {run.name: {'what': run.model.what, 'recipe': run.model.recipe,
                              'solver': SOLVERS[args.device][run.model.recipe], 'overrides': run.overrides,
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
