"""Evaluation report: score one or more codecs on a dataset and write `report.md`, `report.json` and figures.

Command line::

    python -m bandsplit_audiocraft.evaluation.report --checkpoint A.th [--checkpoint B.th ...] [--name NAME ...] \\
        --data <manifest | folder> --out <report folder> [--metrics mel_distance,stft_distance,...] \\
        [--segment S] [--max-clips N] [--device cpu] [--speech] [--figure-clip I]

Every model (an exported checkpoint loaded with `CompressionModel.get_pretrained`, or any `CompressionModel`
passed to `make_report`) is run on every clip (`dataset.load_evaluation_set`) and scored:

1. Objective metrics (`metrics.METRICS`) at every operating point (`scoring.py`), as mean over clips with a
   95 % bootstrap confidence interval (`statistics.py`).
2. The analyses of `scoring.ANALYSES` on band-split models: band analysis, toy inpainting, band token editing
   (marked not applicable for other models).
3. Spectrograms of `s32`, `U(d16)` and `d32` for one clip (`figures.py`).
4. With `--baseline NAME`, every other model's paired per-clip difference from that model at each operating
   point they share, with its bootstrap interval and a verdict (`statistics.paired_difference`).

PESQ and STOI are speech metrics, computed with `--speech` or when named in `--metrics`; ViSQOL is slow and
needs clips of at least 1 s: name it in `--metrics`. `report.md` is rendered by `markdown.py` from the
content of `report.json`. All files are written atomically (temporary file renamed into place).
"""


import argparse
from collections.abc import Sequence
import datetime
import json
import logging
import os
from pathlib import Path
import shlex
import sys
import typing as tp
import warnings

import torch
from tqdm import tqdm

from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes
from ..utils.devices import resolve_device
from .dataset import SEGMENT_MODES, EvaluationSet, load_evaluation_set
from .markdown import render_markdown
from .metrics import DEFAULT_METRICS, METRICS, resolve_metrics
from .scoring import ModelRun, load_model, slug
from .statistics import CONFIDENCE, json_safe, paired_difference

logger = logging.getLogger(__name__)

PROG = 'python -m bandsplit_audiocraft.evaluation.report'


def model_names(checkpoints: Sequence[tp.Any], names: Sequence[str] | None = None) -> list[str]:
    """Display names of the models: `names` if given (one per checkpoint), else the checkpoint file stems,
    made unique."""
    if names:
        if len(names) != len(checkpoints):
            raise ValueError(f"Got {len(names)} name(s) for {len(checkpoints)} checkpoint(s): give one --name per "
                             f"--checkpoint, or none.")
        if len({slug(name) for name in names}) != len(names):
            raise ValueError(f"Model names {list(names)} are not distinct file names; choose distinct names.")
        return list(names)
    result: list[str] = []
    for index, checkpoint in enumerate(checkpoints):
        base = Path(checkpoint).stem if isinstance(checkpoint, (str, os.PathLike)) else f'model{index}'
        name, suffix = base, 2
        while name in result:
            name, suffix = f'{base}_{suffix}', suffix + 1
        result.append(name)
    return result


def paired_against(sections: dict, baseline: str, metrics: Sequence[str], resamples: int) -> dict:
    """Paired differences `model - baseline` of every metric at every operating point a model shares with
    `baseline`: `{'baseline': name, 'differences': {model: {rate: {metric: paired_difference(...)}}}}`."""
    reference = sections[baseline]['operating_points']
    differences: dict = {}
    for name, entry in sections.items():
        for rate, point in entry['operating_points'].items():
            if name != baseline and rate in reference:
                differences.setdefault(name, {})[rate] = {
                    metric: paired_difference(point['per_clip'][metric], reference[rate]['per_clip'][metric],
                                              METRICS[metric].higher_is_better, resamples)
                    for metric in metrics}
    return {'baseline': baseline, 'differences': differences}


def load_inputs(checkpoints: Sequence[PathLike | torch.nn.Module], data: PathLike | EvaluationSet, device: str, *,
                segment: float | None = None, segment_mode: str = 'split',
                max_clips: int | None = None) -> tuple[list[torch.nn.Module], EvaluationSet]:
    """The models (`scoring.load_model`, after seeding torch with 0) and the clips of `data`, loaded at the highest
    model rate, with the models' channel count when they share one (`dataset.load_evaluation_set`)."""
    torch.manual_seed(0)
    models = [load_model(checkpoint, device) for checkpoint in checkpoints]
    channel_counts = {int(model.channels) for model in models}
    dataset = data if isinstance(data, EvaluationSet) else load_evaluation_set(
        data, max(int(model.sample_rate) for model in models),
        channels=channel_counts.pop() if len(channel_counts) == 1 else None, segment=segment,
        segment_mode=segment_mode, max_clips=max_clips)
    return models, dataset


def equivalent_command(checkpoints: Sequence[tp.Any], names: Sequence[str], data: tp.Any, out: Path,
                       metrics: Sequence[str], dataset: EvaluationSet, device: str, figure_clip: int,
                       baseline: str | None) -> str:
    """The command line that makes the same report (in-memory models shown as `<in-memory model>`)."""
    argv = ['python', '-m', 'bandsplit_audiocraft.evaluation.report']
    for checkpoint, name in zip(checkpoints, names):
        argv += ['--checkpoint', str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else '<in-memory model>',
                 '--name', name]
    argv += ['--data', str(dataset.source), '--out', str(out), '--metrics', ','.join(metrics)]
    if dataset.segment is not None:
        argv += ['--segment', f'{dataset.segment:g}', '--segment-mode', dataset.segment_mode]
    if dataset.max_clips is not None:
        argv += ['--max-clips', str(dataset.max_clips)]
    argv += ['--device', device, '--figure-clip', str(figure_clip)] + (['--baseline', baseline] if baseline else [])
    return shlex.join(argv)


def make_report(checkpoints: Sequence[PathLike | torch.nn.Module], data: PathLike | EvaluationSet, out: PathLike, *,
                names: Sequence[str] | None = None, metrics: str | Sequence[str] | None = None, speech: bool = False,
                segment: float | None = None, segment_mode: str = 'split', max_clips: int | None = None,
                device: str = 'cpu', figure_clip: int = 0, examples: bool = True, progress: bool = True,
                bootstrap_resamples: int = 9999, baseline: str | None = None, command: str | None = None) -> dict:
    """Score every model on every clip and write `report.md`, `report.json`, figures and example WAVs to `out`.

    Args:
        checkpoints: Exported checkpoints (`.th`, loaded with `CompressionModel.get_pretrained`) or models
            (moved to `device` and put in eval mode).
        data: Manifest, folder (see `dataset.load_evaluation_set`) or an already loaded `EvaluationSet`.
        out: Report folder, created if needed; existing report files are replaced.
        names: One display name per model (default: checkpoint stems).
        metrics: Metric names (comma-separated string or list; default `metrics.DEFAULT_METRICS`).
        speech: Add PESQ and STOI.
        segment, segment_mode, max_clips: Passed to `load_evaluation_set`.
        device: Torch device to run the models and metrics on.
        figure_clip: Index of the clip drawn in the spectrogram figure.
        examples: Write the token-editing example WAVs of the first pair.
        progress: Show a tqdm progress bar on stderr.
        bootstrap_resamples: Resamples of the bootstrap confidence intervals.
        baseline: Name of the model the others are compared with, clip by clip (`paired_against`).
        command: Command line recorded in the report (default: the equivalent command line).
    Returns:
        dict: The content of `report.json` (non-finite numbers as None). Paths under `models` are relative to
        `out`; `files` lists every file written, as `out / path`.
    """
    if not checkpoints:
        raise ValueError("At least one checkpoint is needed.")
    metric_names = resolve_metrics(metrics, speech)
    device = resolve_device(device)
    display_names = model_names(checkpoints, names)
    if baseline is not None and baseline not in display_names:
        raise ValueError(f"The baseline {baseline!r} is not one of the models {display_names} (see --name).")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"The report folder {str(out)!r} exists and is not a folder.")
    models, dataset = load_inputs(checkpoints, data, device, segment=segment, segment_mode=segment_mode,
                                  max_clips=max_clips)
    if not 0 <= figure_clip < len(dataset):
        raise ValueError(f"--figure-clip {figure_clip} is out of range: the dataset has {len(dataset)} clip(s).")
    runs = [ModelRun(name, checkpoint, model, metric_names)
            for name, checkpoint, model in zip(display_names, checkpoints, models)]
    sections = {}
    with tqdm(total=len(runs) * len(dataset), desc='evaluating', unit='clip', disable=not progress,
              file=sys.stderr) as bar:
        for run in runs:
            bar.set_postfix_str(run.name)

            def clip(index: int, run: ModelRun = run) -> torch.Tensor:
                return run.prepare(dataset.clips[index].wav, dataset.sample_rate, device)

            for index, item in enumerate(dataset.clips):
                figure = out / 'figures' / f'{slug(run.name)}_clip{index}.png' if index == figure_clip else None
                run.score(clip(index), figure, item.name)
                bar.update(1)
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)
                sections[run.name] = run.section(bootstrap_resamples, clip, out, examples)

    if command is None:
        command = equivalent_command(checkpoints, display_names, data, out, metric_names, dataset, device,
                                     figure_clip, baseline)
    report = json_safe({
        'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        'command': command, 'device': device, 'versions': _versions(), 'data': dataset.describe(),
        'metrics': metric_names,
        'metric_definitions': {name: METRICS[name].definition for name in metric_names},
        'higher_is_better': {name: METRICS[name].higher_is_better for name in metric_names},
        'confidence_interval': {'level': CONFIDENCE, 'method': 'BCa bootstrap of the mean over clips',
                                'resamples': bootstrap_resamples, 'seed': 0},
        'figure_clip': figure_clip,
        'models': sections,
        'paired': paired_against(sections, baseline, metric_names, bootstrap_resamples) if baseline else None,
    })
    entries = list(report['models'].values())
    report['files'] = {'report_md': str(out / 'report.md'), 'report_json': str(out / 'report.json'),
                       'figures': [str(out / entry['figure']) for entry in entries if entry['figure']],
                       'examples': [str(out / path) for entry in entries
                                    for path in entry['token_editing'].get('examples', [])]}
    atomic_write_bytes(out / 'report.json', (json.dumps(report, indent=2, allow_nan=False) + '\n').encode(),
                       overwrite=True)
    atomic_write_bytes(out / 'report.md', render_markdown(report).encode(), overwrite=True)
    return report


def _versions() -> dict[str, str]:
    import audiocraft

    return {'torch': torch.__version__, 'audiocraft': audiocraft.__version__, 'python': sys.version.split()[0]}


def add_input_arguments(parser: argparse.ArgumentParser, output: str) -> None:
    """The options naming the models, clips and output folder (`output`: what the folder holds) shared by the
    commands built on `load_inputs`: --checkpoint, --name, --data, --out, --metrics, --segment, --segment-mode,
    --max-clips, --device."""
    parser.add_argument('--checkpoint', action='append', required=True, metavar='PATH',
                        help="exported checkpoint (.th); repeat to compare models side by side")
    parser.add_argument('--name', action='append', metavar='NAME', help="display name, one per --checkpoint")
    parser.add_argument('--data', required=True, metavar='PATH',
                        help="manifest (data.jsonl or .jsonl.gz), folder holding one, or folder of audio files")
    parser.add_argument('--out', required=True, metavar='FOLDER', help=f"{output} folder")
    parser.add_argument('--metrics', metavar='LIST', help=f"comma-separated metrics among {','.join(METRICS)} "
                                                          f"(default: {','.join(DEFAULT_METRICS)})")
    parser.add_argument('--segment', type=float, metavar='SECONDS', help="cut files into segments of this length")
    parser.add_argument('--segment-mode', choices=SEGMENT_MODES, default='split',
                        help="split: every whole segment; crop: the first segment of each file (default: split)")
    parser.add_argument('--max-clips', type=int, metavar='N', help="use at most N clips")
    parser.add_argument('--device', default='cpu', help="torch device (default: cpu)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Score audio codecs (exported checkpoints) on a dataset: objective metrics at every "
                               "operating point with bootstrap confidence intervals, band analysis, toy inpainting, "
                               "band token editing and spectrograms. Writes report.md, report.json and figures.",
        epilog=f"Example: {PROG} --checkpoint bandsplit.th --checkpoint encodec.th --data outputs/corpus/evaluate "
               f"--out reports/eval --segment 2")
    add_input_arguments(parser, 'report')
    parser.add_argument('--speech', action='store_true', help="add the speech metrics PESQ and STOI")
    parser.add_argument('--figure-clip', type=int, default=0, metavar='I', help="clip drawn in the spectrograms")
    parser.add_argument('--bootstrap-resamples', type=int, default=9999, metavar='N',
                        help="bootstrap resamples of the confidence intervals (default: 9999)")
    parser.add_argument('--baseline', metavar='NAME',
                        help="compare every other model with this one clip by clip (paired differences)")
    parser.add_argument('--no-examples', action='store_true', help="do not write the token-editing example WAVs")
    parser.add_argument('-q', '--quiet', action='store_true', help="no progress bar, only warnings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 on success)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format='%(levelname)s: %(message)s',
                        stream=sys.stderr)
    command = shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)])
    try:
        report = make_report(args.checkpoint, args.data, args.out, names=args.name, metrics=args.metrics,
                             speech=args.speech, segment=args.segment, segment_mode=args.segment_mode,
                             max_clips=args.max_clips, device=args.device, figure_clip=args.figure_clip,
                             examples=not args.no_examples, progress=not args.quiet,
                             bootstrap_resamples=args.bootstrap_resamples, baseline=args.baseline,
                             command=command)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    print(f"Wrote {report['files']['report_md']} and {report['files']['report_json']} "
          f"({report['data']['num_clips']} clips, {len(report['models'])} model(s)).")
    return 0


if __name__ == '__main__':
    sys.exit(main())
