"""Quality at equal budget on real recorded audio: the band-split codec against the baselines.

1. **Audio.** `--folder DIR` takes every audio file under DIR (any format soundfile or PyAV reads). Without it,
   recorded music packaged by Debian is used: `--debian-package` (default `wesnoth-1.16-music`, the orchestral
   soundtrack of The Battle for Wesnoth, 44.1 kHz stereo Ogg Vorbis) is fetched with `apt-get download` and
   unpacked with `dpkg-deb -x` into the work folder; nothing is installed.
2. **Benchmark set.** Whole tracks are assigned to the evaluate, valid and train splits (ordered by a hash of
   their path, so the assignment is stable and no track lies in two splits). Every track is downmixed to mono
   and resampled to 32 kHz with julius; train tracks are written whole, evaluate and valid tracks as
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
import hashlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
import typing as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import command_line, machine, write_result  # noqa: E402

SAMPLE_RATE = 32000
SPLITS = ('evaluate', 'valid', 'train')
DEFAULT_PACKAGE = 'wesnoth-1.16-music'
# The default budget: 4 epochs of 100 updates per branch phase and for the joint phase (1200 updates of batch 8
# on 0.5 s segments for every model), validation and evaluation sized for the benchmark set.
DEFAULT_BUDGET = ['cascade.branch_phase=4', 'cascade.joint_phase=4']
QUICK_BUDGET = ['optim.updates_per_epoch=2', 'dataset.train.num_samples=16', 'cascade.branch_phase=1',
                'cascade.joint_phase=1', 'dataset.valid.num_samples=2', 'dataset.evaluate.num_samples=2',
                'dataset.generate.num_samples=1']
KEY_METRICS = ('mel_distance', 'stft_distance', 'si_sdr', 'sdr', 'visqol')


class BenchmarkError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


# ---- 1. audio --------------------------------------------------------------------------------------------------

def fetch_debian_package(package: str, work: Path) -> Path:
    """Download `package` with `apt-get download` and unpack it (without installing); returns the unpacked root."""
    root = work / 'packages' / package
    if (root / '.complete').exists():
        return root
    if shutil.which('apt-get') is None or shutil.which('dpkg-deb') is None:
        raise BenchmarkError("apt-get and dpkg-deb are needed to fetch a Debian package; give --folder instead.")
    debs = work / 'debs'
    debs.mkdir(parents=True, exist_ok=True)
    existing = sorted(debs.glob(f'{package}_*.deb'))
    if not existing:
        print(f"downloading the Debian package {package} ...", flush=True)
        out = subprocess.run(['apt-get', 'download', package], cwd=debs, capture_output=True, text=True)
        existing = sorted(debs.glob(f'{package}_*.deb'))
        if out.returncode != 0 or not existing:
            raise BenchmarkError(f"`apt-get download {package}` failed (exit {out.returncode}): "
                                 f"{out.stderr.strip()[-500:]}")
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(['dpkg-deb', '-x', str(existing[-1]), str(root)], capture_output=True, text=True)
    if out.returncode != 0:
        raise BenchmarkError(f"`dpkg-deb -x {existing[-1]}` failed: {out.stderr.strip()[-500:]}")
    (root / '.complete').touch()
    return root


def find_tracks(folder: Path, min_seconds: float) -> tp.List[tp.Tuple[Path, float]]:
    """Readable audio files under `folder` of at least `min_seconds`, with their durations."""
    from bandsplit_audiocraft.data.manifest import build_manifest
    entries = build_manifest(folder, min_duration=min_seconds)
    return [(Path(e['path']), float(e['duration'])) for e in entries]


# ---- 2. benchmark set ------------------------------------------------------------------------------------------

def assign_splits(tracks: tp.Sequence[Path], root: Path, eval_fraction: float = 0.15,
                  valid_fraction: float = 0.1) -> tp.Dict[str, tp.List[Path]]:
    """Whole tracks to splits: ordered by a hash of the path relative to `root`, the first ones evaluate, then
    valid, the rest train; at least one track each."""
    if len(tracks) < 3:
        raise BenchmarkError(f"At least 3 audio tracks are needed (one per split), found {len(tracks)}.")

    def key(path: Path) -> str:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        return hashlib.sha1(str(rel).encode()).hexdigest()
    ordered = sorted(tracks, key=key)
    n_eval = max(1, round(eval_fraction * len(ordered)))
    n_valid = max(1, round(valid_fraction * len(ordered)))
    n_eval = min(n_eval, len(ordered) - 2)
    n_valid = min(n_valid, len(ordered) - n_eval - 1)
    return {'evaluate': ordered[:n_eval], 'valid': ordered[n_eval:n_eval + n_valid],
            'train': ordered[n_eval + n_valid:]}


def clip_starts(length: int, clip: int, count: int) -> tp.List[int]:
    """`count` evenly spaced starts of `clip`-sample clips inside `length` samples (fewer if it is short)."""
    count = max(0, min(count, length // clip))
    if count == 0:
        return []
    room = length - count * clip
    gap = room // (count + 1)
    return [gap + i * (clip + gap) for i in range(count)]


def build_set(splits: tp.Dict[str, tp.List[Path]], out: Path, clip_seconds: float,
              clips_per_track: int) -> tp.Dict[str, tp.Any]:
    """Write the 32 kHz mono benchmark set and its manifests under `out`; returns its description."""
    from bandsplit_audiocraft.data.audio_io import read_audio, write_wav
    from bandsplit_audiocraft.data.manifest import make_manifest
    done = out / '.complete'
    if done.exists():
        return json.loads(done.read_text())
    if out.exists():
        shutil.rmtree(out)
    clip = int(clip_seconds * SAMPLE_RATE)
    summary: tp.Dict[str, tp.Any] = {}
    for split, tracks in splits.items():
        audio_dir = out / 'audio' / split
        seconds = 0.0
        files = 0
        for index, track in enumerate(tracks):
            wav, _ = read_audio(track, sample_rate=SAMPLE_RATE, channels=1)
            stem = f'{index:03d}_{track.stem}'
            if split == 'train':
                pieces = [(stem, wav)]
            else:
                pieces = [(f'{stem}_{start // SAMPLE_RATE:04d}s', wav[:, start:start + clip])
                          for start in clip_starts(wav.shape[-1], clip, clips_per_track)]
            for name, piece in pieces:
                write_wav(audio_dir / f'{name}.wav', piece, SAMPLE_RATE, overwrite=True, subtype='FLOAT')
                seconds += piece.shape[-1] / SAMPLE_RATE
                files += 1
        if files == 0:
            raise BenchmarkError(f"The {split} split has no clip of {clip_seconds} s; use longer tracks or a "
                                 f"shorter --clip-seconds.")
        make_manifest(audio_dir, out / split / 'data.jsonl')
        summary[split] = {'tracks': [str(t) for t in tracks], 'files': files, 'seconds': round(seconds, 2)}
    shutil.copytree(out / 'valid', out / 'generate')
    done.write_text(json.dumps(summary, indent=2))
    return summary


# ---- 3. training -----------------------------------------------------------------------------------------------

def train(name: str, overrides: tp.List[str], dora_dir: Path, log: Path) -> float:
    """`dora run` with `overrides` (resuming if it was interrupted); returns the wall seconds it took now."""
    from bandsplit_audiocraft.utils.dora import DoraRunError, dora_run
    print(f"training {name}: dora run {' '.join(overrides)}", flush=True)
    start = time.time()
    try:
        dora_run(overrides, dora_dir=dora_dir, log=log)
    except DoraRunError as error:
        raise BenchmarkError(f"Training {name} failed: {error}") from None
    return time.time() - start


def experiment_folder(overrides: tp.List[str], dora_dir: Path) -> Path:
    """The folder of the experiment `overrides` defines under `dora_dir`."""
    os.environ['AUDIOCRAFT_DORA_DIR'] = str(dora_dir)
    from bandsplit_audiocraft.main import experiment_folder as folder_of
    return folder_of(overrides)


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
        if args.folder is not None:
            if not args.folder.is_dir():
                raise BenchmarkError(f"--folder {str(args.folder)!r} is not a folder.")
            source_root, source = args.folder.resolve(), {'folder': str(args.folder.resolve())}
        else:
            source_root = fetch_debian_package(args.debian_package, work)
            source = {'debian_package': args.debian_package}
        tracks = find_tracks(source_root, min_seconds=args.clip_seconds)
        if args.max_tracks:
            tracks = sorted(tracks, key=lambda t: hashlib.sha1(str(t[0]).encode()).hexdigest())[:args.max_tracks]
        splits = assign_splits([t[0] for t in tracks], source_root)
        set_name = 'set_' + hashlib.sha1(json.dumps(
            [sorted(map(str, v)) for v in splits.values()] + [args.clip_seconds, args.clips_per_track, 'float']
        ).encode()).hexdigest()[:10]
        dataset_root = work / set_name
        print(f"{len(tracks)} tracks ({sum(t[1] for t in tracks) / 60:.1f} min); building the set in {dataset_root}",
              flush=True)
        description = build_set(splits, dataset_root, args.clip_seconds, args.clips_per_track)
        given = {o.split('=', 1)[0] for o in args.overrides}
        budget = [o for o in (QUICK_BUDGET if args.quick else DEFAULT_BUDGET) if o.split('=', 1)[0] not in given]
        budget += args.overrides
        common = ['dset=folder', f'dataset_root={dataset_root}', *budget]
        dora_dir = work / 'dora'
        overrides = {m: matched_overrides(m, common, solver=args.solver) for m in models}
        train_seconds = {m: train(m, overrides[m], dora_dir, work / f'train_{m}.log') for m in models}

        from bandsplit_audiocraft.evaluation.report import make_report
        from bandsplit_audiocraft.export import export_checkpoint
        exported = [export_checkpoint(experiment_folder(overrides[m], dora_dir), work / 'models' / f'{m}.th')
                    for m in models]
        report_dir = work / 'report'
        print(f"scoring {len(models)} models on {description['evaluate']['files']} evaluate clips", flush=True)
        command = command_line('bench/quality_real_audio.py', argv)
        report = make_report(exported, dataset_root / 'evaluate' / 'data.jsonl', report_dir, names=models,
                             command=command, examples=False)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from bandsplit_audiocraft.configs import compose
    cfg = compose(overrides[BANDSPLIT])
    figures = key_figures(report)
    result = {
        'command': command, 'machine': machine(), 'source': source, 'set': description,
        'budget': {'solver': args.solver, 'overrides': budget, 'batch_size': int(cfg.dataset.batch_size),
                   'segment_seconds': float(cfg.dataset.segment_duration),
                   'updates_per_epoch': int(cfg.optim.updates_per_epoch)},
        'models': {m: {'overrides': overrides[m], 'train_seconds_this_run': round(train_seconds[m], 1),
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
