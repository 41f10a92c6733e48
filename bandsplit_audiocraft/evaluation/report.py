"""Evaluation report: score one or more codecs on a dataset and write `report.md`, `report.json` and figures.

Command line::

    python -m bandsplit_audiocraft.evaluation.report --checkpoint A.th [--checkpoint B.th ...] [--name NAME ...] \\
        --data <manifest | folder> --out <report folder> [--metrics mel_distance,stft_distance,...] \\
        [--segment S] [--max-clips N] [--device cpu] [--speech] [--figure-clip I]

Every model (an exported checkpoint loaded with `CompressionModel.get_pretrained`, or any `CompressionModel`
passed to `make_report`) is run on every clip (`dataset.load_evaluation_set`) and scored:

1. Objective metrics (`metrics.py`) at every operating point, as mean over clips with a 95 % bootstrap
   confidence interval (`metrics.bootstrap_ci`). A band-split model has one operating point per branch: at
   16 kHz the low-branch reconstruction `branch_recons[0]` against the 16 kHz reference `branch_targets[0]`
   (the clip downsampled by the model), at 32 kHz the full output `x` against the clip. Any other model (a
   stock audiocraft `EncodecModel`, a single-branch model) is scored at its own rate only.
2. Band analysis (`band_analysis.analyse_bands`): per-band SDR of `U(d16)`, of `d32` (against its residual
   target `s32 - U(d16)` and against `s32`) and of the output, energy shares and fractions, crossover SDR.
3. Toy inpainting (`inpainting.py`) and band token editing (`token_editing.py`; clip `i` is paired with clip
   `i + 1`, cyclically).
4. Spectrograms of `s32`, `U(d16)` and `d32` for one clip (`figures.py`).

Sections 2 and 3 need a band-split model with at least two branches; for other models they are marked not
applicable. PESQ and STOI are speech metrics: they are computed with `--speech` or when named in
`--metrics`. ViSQOL is slow (about 0.3 s per second of audio) and needs clips of at least 1 s: name it in
`--metrics` to compute it. All files are written atomically (temporary file renamed into place).
"""

import argparse
from collections.abc import Callable, Mapping, Sequence
import datetime
import json
import logging
import math
import os
from pathlib import Path
import re
import shlex
import sys
import typing as tp
import warnings

import torch
from tqdm import tqdm

from ..bands import resample
from ..data.audio_io import convert_channels
from .band_analysis import analyse_bands, band_label, band_sdr, crossover_sdr
from .dataset import SEGMENT_MODES, EvaluationSet, load_evaluation_set
from .figures import plot_band_split, plot_spectrograms, write_bytes_atomic
from .inpainting import SYSTEMS, inpaint, inpainting_metrics, is_band_split
from .metrics import DEFAULT_METRICS, HIGHER_IS_BETTER, METRICS, bootstrap_ci, compute_metrics
from .token_editing import MEASURES, VARIANTS, edit_codes, token_editing_metrics, write_examples

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
PROG = 'python -m bandsplit_audiocraft.evaluation.report'
SPEECH_METRICS: tuple[str, ...] = ('pesq', 'stoi')
METRIC_ALIASES: dict[str, str] = {'pesq_score': 'pesq', 'stoi_score': 'stoi', 'mel': 'mel_distance',
                                  'stft': 'stft_distance', 'l1': 'waveform_l1'}
CONFIDENCE = 0.95
CROSSOVER_WIDTH_HZ = 1000.0
"""Width of the window around the crossover frequency in which the crossover SDR is measured."""

METRIC_LABELS: dict[str, str] = {
    'mel_distance': "Mel distance", 'stft_distance': "STFT distance", 'waveform_l1': "Waveform L1",
    'si_sdr': "SI-SDR (dB)", 'sdr': "SDR (dB)", 'visqol': "ViSQOL (MOS-LQO)", 'pesq': "PESQ (wideband)",
    'stoi': "STOI",
}
METRIC_DEFINITIONS: dict[str, str] = {
    'mel_distance': "DAC's `MelSpectrogramLoss()` with default settings, per clip: L1 between log10 mel powers plus "
                    "L1 between mel magnitudes, summed over two scales (windows 2048/512, 150/80 mel bands, "
                    "hop = window / 4) (`metrics.mel_distance`).",
    'stft_distance': "DAC's `MultiScaleSTFTLoss()` with default settings, per clip: L1 between log10 powers plus L1 "
                     "between magnitudes, summed over windows 2048 and 512 (`metrics.stft_distance`).",
    'waveform_l1': "Mean absolute sample difference (`metrics.waveform_l1`).",
    'si_sdr': "Scale-invariant SDR in dB, means removed (`metrics.si_sdr`).",
    'sdr': "Plain SDR in dB, `10 log10(|ref|^2 / |ref - est|^2)` (`metrics.sdr`).",
    'visqol': "ViSQOL v3 audio mode MOS-LQO at 48 kHz, through visqol-python (`metrics.visqol`).",
    'pesq': "Wideband PESQ (P.862.2) at 16 kHz (`metrics.pesq_score`).",
    'stoi': "STOI intelligibility, 0 to 1 (`metrics.stoi_score`).",
}


# ----------------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------------


def parse_metrics(metrics: str | Sequence[str] | None, speech: bool = False) -> list[str]:
    """Metric names from a comma-separated string or a list (aliases such as 'pesq_score' accepted), plus
    PESQ and STOI when `speech`. None gives `metrics.DEFAULT_METRICS`."""
    if metrics is None:
        names = list(DEFAULT_METRICS)
    else:
        if isinstance(metrics, str):
            metrics = metrics.split(',')
        names = [METRIC_ALIASES.get(name.strip(), name.strip()) for name in metrics if name.strip()]
    if speech:
        names += [name for name in SPEECH_METRICS if name not in names]
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; available metrics are {', '.join(METRICS)}.")
    if not names:
        raise ValueError("At least one metric is needed.")
    return list(dict.fromkeys(names))


def _slug(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('._') or 'model'


def model_names(checkpoints: Sequence[tp.Any], names: Sequence[str] | None = None) -> list[str]:
    """Display names of the models: `names` if given (one per checkpoint), else the checkpoint file stems,
    made unique."""
    if names:
        if len(names) != len(checkpoints):
            raise ValueError(f"Got {len(names)} name(s) for {len(checkpoints)} checkpoint(s): give one --name per "
                             f"--checkpoint, or none.")
        if len(set(names)) != len(names):
            raise ValueError(f"Model names must be unique, got {list(names)}.")
        if len({_slug(name) for name in names}) != len(names):
            raise ValueError(f"Model names {list(names)} give the same file names; choose more distinct names.")
        return list(names)
    result: list[str] = []
    for index, checkpoint in enumerate(checkpoints):
        base = Path(checkpoint).stem if isinstance(checkpoint, (str, os.PathLike)) else f'model{index}'
        name, suffix = base, 2
        while name in result:
            name, suffix = f'{base}_{suffix}', suffix + 1
        result.append(name)
    return result


def load_model(checkpoint: PathLike | torch.nn.Module, device: str | torch.device = 'cpu') -> torch.nn.Module:
    """A codec in eval mode on `device`: an exported checkpoint (`CompressionModel.get_pretrained`) or a model."""
    if isinstance(checkpoint, torch.nn.Module):
        model = checkpoint
    else:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint {str(path)!r} does not exist (give an exported .th file).")
        from audiocraft.models import CompressionModel

        import bandsplit_audiocraft  # noqa: F401  (registers the band-split model with audiocraft)

        model = CompressionModel.get_pretrained(str(path), device=device)
    for attribute in ('sample_rate', 'channels', 'encode', 'decode'):
        if not hasattr(model, attribute):
            raise ValueError(f"{type(model).__name__} is not a compression model: it has no {attribute!r}.")
    return model.to(device).eval()


def _check_device(device: str) -> str:
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"Unknown device {device!r}: {error}.") from error
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was asked for but CUDA is not available; use --device cpu.")
    return str(parsed)


# ----------------------------------------------------------------------------------------------------------
# Numbers: per-clip values, aggregates, JSON
# ----------------------------------------------------------------------------------------------------------


def _to_floats(tree: tp.Any) -> tp.Any:
    """Nested dict of `[1]` tensors -> nested dict of floats."""
    if isinstance(tree, Mapping):
        return {key: _to_floats(value) for key, value in tree.items()}
    if isinstance(tree, torch.Tensor):
        return float(tree.detach().double().mean().cpu())
    return float(tree)


def _append(store: dict, tree: Mapping) -> None:
    """Append the leaves of `tree` (nested dict of floats) to the lists of `store` (same nesting)."""
    for key, value in tree.items():
        if isinstance(value, Mapping):
            _append(store.setdefault(key, {}), value)
        else:
            store.setdefault(key, []).append(value)


def aggregate(values: Sequence[float], resamples: int = 9999) -> dict[str, float | int | None]:
    """Mean and 95 % bootstrap CI (`metrics.bootstrap_ci`) of per-clip values, ignoring non-finite ones."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {'mean': None, 'ci_low': None, 'ci_high': None, 'n': 0}
    mean, low, high = bootstrap_ci(finite, confidence=CONFIDENCE, n_resamples=resamples)
    return {'mean': mean, 'ci_low': low, 'ci_high': high, 'n': len(finite)}


def _aggregate_tree(tree: Mapping, resamples: int) -> dict:
    return {key: _aggregate_tree(value, resamples) if isinstance(value, Mapping) else aggregate(value, resamples)
            for key, value in tree.items()}


def _json_safe(tree: tp.Any) -> tp.Any:
    """Replace non-finite floats by None (JSON has no NaN) and paths by strings."""
    if isinstance(tree, Mapping):
        return {str(key): _json_safe(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_json_safe(value) for value in tree]
    if isinstance(tree, float):
        return tree if math.isfinite(tree) else None
    if isinstance(tree, Path):
        return str(tree)
    return tree


def _write_text(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode('utf-8'))


# ----------------------------------------------------------------------------------------------------------
# One model
# ----------------------------------------------------------------------------------------------------------


def _khz(rate: float) -> str:
    return f"{rate / 1000:g}"


def operating_points(model: torch.nn.Module) -> list[dict]:
    """The operating points of a model: one per branch for a band-split model, else the model's rate."""
    if is_band_split(model):
        points = []
        for k, branch in enumerate(model.branches):
            top = k == len(model.branches) - 1
            points.append({
                'sample_rate': int(branch.sample_rate),
                'bandwidth_kbps': float(sum(b.bandwidth for b in model.branches[:k + 1])),
                'estimate': 'x (full output)' if top else
                            f'branch_recons[{k}] (reconstruction at {branch.sample_rate} Hz)',
                'reference': 'the clip at the model rate' if top else
                             f'branch_targets[{k}] (the clip downsampled to {branch.sample_rate} Hz)',
            })
        return points
    kbps = float(model.frame_rate) * int(model.num_codebooks) * math.log2(int(model.cardinality)) / 1000
    return [{'sample_rate': int(model.sample_rate), 'bandwidth_kbps': kbps, 'estimate': 'x (model output)',
             'reference': 'the clip at the model rate'}]


def signal_names(model: torch.nn.Module) -> dict[str, str]:
    """Names of the band-analysis signals of a band-split model, e.g. `{'low': 'U(d16)', 'high': 'd32', ...}`."""
    rates = model.branch_rates
    top = _khz(rates[-1])
    low = f"U(d{_khz(rates[0])})" if len(rates) == 2 else f"U(y{_khz(rates[-2])})"
    return {'low': low, 'high': f"d{top}", 'output': f"y{top}", 'input': f"s{top}"}


def model_bands(model: torch.nn.Module) -> list[tuple[float, float]]:
    """Bands of the band analysis: from 0 to each branch's Nyquist frequency, e.g. 0-8 kHz and 8-16 kHz."""
    edges = [0.0] + [rate / 2 for rate in model.branch_rates]
    return list(zip(edges[:-1], edges[1:]))


def model_info(name: str, checkpoint: tp.Any, model: torch.nn.Module) -> dict:
    """JSON-friendly description of a model."""
    info = {'name': name, 'checkpoint': str(Path(checkpoint).absolute()) if isinstance(checkpoint, (str, os.PathLike))
            else f'<in-memory {type(model).__name__}>', 'class': type(model).__name__,
            'sample_rate': int(model.sample_rate), 'channels': int(model.channels),
            'band_split': is_band_split(model), 'frame_rate': float(model.frame_rate),
            'num_codebooks': int(model.num_codebooks), 'cardinality': int(model.cardinality),
            'parameters': sum(p.numel() for p in model.parameters())}
    if hasattr(model, 'branch_rates'):
        info['branch_rates'] = [int(rate) for rate in model.branch_rates]
        info['codebooks_per_branch'] = [int(k) for k in model.codebooks_per_branch]
    info['bandwidth_kbps'] = operating_points(model)[-1]['bandwidth_kbps']
    return info


def _band_analysis(model: torch.nn.Module, x: torch.Tensor, result: tp.Any) -> dict:
    """Band analysis of one clip `x` `[1, C, T]` from the model's forward `result`; nested dict of floats."""
    sr = model.sample_rate
    high = result.branch_outputs[-1]
    low = result.x - high
    bands = model_bands(model)
    crossover = model.branch_rates[-2] / 2
    analysis = analyse_bands(x, {'low': low, 'high': high}, result.x, sr, bands=bands,
                             targets={'high': x - low}, crossover_hz=crossover, crossover_width_hz=CROSSOVER_WIDTH_HZ)
    analysis['high_vs_input'] = {
        'sdr': {band_label(band): band_sdr(high, x, sr, band) for band in bands},
        'crossover_sdr': crossover_sdr(high, x, sr, center=crossover, width=CROSSOVER_WIDTH_HZ),
    }
    return _to_floats(analysis)


class _ModelRun:
    """Scores of one model on every clip, accumulated clip by clip."""

    def __init__(self, name: str, checkpoint: tp.Any, model: torch.nn.Module, metrics: Sequence[str]):
        self.name, self.model, self.metrics = name, model, list(metrics)
        self.info = model_info(name, checkpoint, model)
        self.band_split = is_band_split(model)
        self.points = operating_points(model)
        self.point_values: dict[str, dict] = {str(p['sample_rate']): {} for p in self.points}
        self.band_values: dict = {}
        self.inpainting_values: dict = {}
        self.codes: list[torch.Tensor] = []
        self.lengths: list[int] = []
        self.figure: Path | None = None
        self.edits: tuple[list[list[int]], dict, list[Path]] = ([], {}, [])

    def prepare(self, wav: torch.Tensor, sample_rate: int, device: str) -> torch.Tensor:
        """Clip `[C, T]` at `sample_rate` -> model input `[1, C', T']` at the model's rate and channels."""
        x = convert_channels(wav, int(self.model.channels))
        if sample_rate != self.model.sample_rate:
            length = math.ceil(x.shape[-1] * self.model.sample_rate / sample_rate)
            x = resample(x, sample_rate, int(self.model.sample_rate), length=length)
        return x[None].to(device)

    @torch.no_grad()
    def score(self, x: torch.Tensor, figure_path: Path | None = None, clip_name: str = '') -> None:
        """Score the model on one clip `x` `[1, C, T]` and store the values (and draw the figure if asked)."""
        result = self.model(x)
        if self.band_split:
            estimates = list(result.branch_recons[:-1]) + [result.x]
            references = list(result.branch_targets[:-1]) + [x]
        else:
            estimates, references = [result.x[..., :x.shape[-1]]], [x]
        for point, est, ref in zip(self.points, estimates, references):
            scores = compute_metrics(est, ref, point['sample_rate'], self.metrics)
            _append(self.point_values[str(point['sample_rate'])], _to_floats(scores))
        if self.band_split:
            _append(self.band_values, _band_analysis(self.model, x, result))
            _append(self.inpainting_values, _to_floats(inpainting_metrics(inpaint(self.model, x))))
            self.codes.append(result.codes.detach())
            self.lengths.append(int(x.shape[-1]))
        if figure_path is not None:
            self.figure = self._plot(x, result, figure_path, f"{self.name}: {clip_name}" if clip_name else self.name)

    def _plot(self, x: torch.Tensor, result: tp.Any, path: Path, title: str) -> Path:
        if self.band_split:
            high = result.branch_outputs[-1]
            fig = plot_band_split(x[0], (result.x - high)[0], high[0], int(self.model.sample_rate), title=title,
                                  crossover_hz=self.model.branch_rates[-2] / 2,
                                  low_rate_khz=self.model.branch_rates[0] / 1000 if len(self.model.branches) == 2
                                  else None, path=path)
        else:
            rate = _khz(self.model.sample_rate)
            fig = plot_spectrograms([(f"Input s{rate}", x[0]), (f"Output y{rate}", result.x[0, :, :x.shape[-1]])],
                                    int(self.model.sample_rate), crossover_hz=None, title=title, path=path)
        fig.clear()
        return path

    @torch.no_grad()
    def token_editing(self, prepare: Callable[[int], torch.Tensor], examples_dir: Path | None,
                      progress: tp.Any) -> tuple[list[list[int]], dict, list[Path]]:
        """Token editing of every pair `(i, i + 1 mod N)`; returns the pairs, per-pair values, example files."""
        count = len(self.codes)
        pairs = [[i, (i + 1) % count] for i in range(count)] if count >= 2 else []
        values: dict = {}
        written: list[Path] = []
        for number, (i, j) in enumerate(pairs):
            length = min(self.lengths[i], self.lengths[j])
            edits = edit_codes(self.model, self.codes[i], self.codes[j], length)
            _append(values, _to_floats(token_editing_metrics(edits)))
            if number == 0 and examples_dir is not None:
                written = write_examples(edits, examples_dir, prepare(i)[..., :length], prepare(j)[..., :length])
            progress.update(1)
        return pairs, values, written


# ----------------------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------------------


def _not_applicable(model: torch.nn.Module, what: str) -> dict:
    bands = len(getattr(model, 'branches', [])) or 1
    return {'applicable': False, 'reason': f"{what} needs a band-split model with at least two branches; "
                                           f"{type(model).__name__} codes {bands} band(s)."}


def equivalent_command(checkpoints: Sequence[tp.Any], names: Sequence[str], data: tp.Any, out: Path,
                       metrics: Sequence[str], segment: float | None, segment_mode: str, max_clips: int | None,
                       device: str, figure_clip: int) -> str:
    """The command line that makes the same report (in-memory models shown as `<in-memory model>`)."""
    argv = ['python', '-m', 'bandsplit_audiocraft.evaluation.report']
    for checkpoint, name in zip(checkpoints, names):
        argv += ['--checkpoint', str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else '<in-memory model>',
                 '--name', name]
    argv += ['--data', str(data.source if isinstance(data, EvaluationSet) else data), '--out', str(out),
             '--metrics', ','.join(metrics)]
    if segment is not None:
        argv += ['--segment', f'{segment:g}', '--segment-mode', segment_mode]
    if max_clips is not None:
        argv += ['--max-clips', str(max_clips)]
    argv += ['--device', device, '--figure-clip', str(figure_clip)]
    return shlex.join(argv)


def make_report(checkpoints: Sequence[PathLike | torch.nn.Module], data: PathLike | EvaluationSet, out: PathLike, *,
                names: Sequence[str] | None = None, metrics: str | Sequence[str] | None = None, speech: bool = False,
                segment: float | None = None, segment_mode: str = 'split', max_clips: int | None = None,
                device: str = 'cpu', figure_clip: int = 0, examples: bool = True, progress: bool = True,
                bootstrap_resamples: int = 9999, command: str | None = None) -> dict:
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
        command: Command line recorded in the report (default: the equivalent command line).
    Returns:
        dict: The content of `report.json` (non-finite numbers as None). Paths under `models` are relative to
        `out`; `files` lists every file written, as `out / path`.
    """
    if not checkpoints:
        raise ValueError("At least one checkpoint is needed.")
    metric_names = parse_metrics(metrics, speech)
    device = _check_device(device)
    display_names = model_names(checkpoints, names)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"The report folder {str(out)!r} exists and is not a folder.")
    torch.manual_seed(0)
    models = [load_model(checkpoint, device) for checkpoint in checkpoints]
    reference_rate = max(int(model.sample_rate) for model in models)
    channel_counts = {int(model.channels) for model in models}
    if isinstance(data, EvaluationSet):
        dataset = data
    else:
        dataset = load_evaluation_set(data, reference_rate, channels=channel_counts.pop() if len(channel_counts) == 1
                                      else None, segment=segment, segment_mode=segment_mode, max_clips=max_clips)
    if not 0 <= figure_clip < len(dataset):
        raise ValueError(f"--figure-clip {figure_clip} is out of range: the dataset has {len(dataset)} clip(s).")
    runs = [_ModelRun(name, checkpoint, model, metric_names)
            for name, checkpoint, model in zip(display_names, checkpoints, models)]
    figures_dir = out / 'figures'
    pair_steps = sum(len(dataset) for run in runs if run.band_split and len(dataset) >= 2)
    with tqdm(total=len(runs) * len(dataset) + pair_steps, desc='evaluating', unit='clip', disable=not progress,
              file=sys.stderr) as bar:
        for run in runs:
            bar.set_postfix_str(run.name)
            for index, clip in enumerate(dataset.clips):
                x = run.prepare(clip.wav, dataset.sample_rate, device)
                figure = figures_dir / f'{_slug(run.name)}_clip{index}.png' if index == figure_clip else None
                run.score(x, figure, clip.name)
                bar.update(1)
            if run.band_split:
                run.edits = run.token_editing(
                    lambda i, run=run: run.prepare(dataset.clips[i].wav, dataset.sample_rate, device),
                    out / 'examples' / _slug(run.name) / 'token_editing' if examples else None, bar)

    date = datetime.datetime.now().astimezone().isoformat(timespec='seconds')
    if command is None:
        command = equivalent_command(checkpoints, display_names, data, out, metric_names, dataset.segment,
                                     dataset.segment_mode, dataset.max_clips, device, figure_clip)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        report = {
            'date': date, 'command': command, 'device': device,
            'versions': _versions(),
            'data': dataset.describe(),
            'metrics': metric_names,
            'metric_definitions': {name: METRIC_DEFINITIONS[name] for name in metric_names},
            'higher_is_better': {name: HIGHER_IS_BETTER[name] for name in metric_names},
            'confidence_interval': {'level': CONFIDENCE, 'method': 'BCa bootstrap of the mean over clips',
                                    'resamples': bootstrap_resamples, 'seed': 0},
            'figure_clip': figure_clip,
            'models': {run.name: _model_section(run, dataset, bootstrap_resamples, out) for run in runs},
        }
    report = _json_safe(report)
    sections = [report['models'][run.name] for run in runs]
    report['files'] = {'report_md': str(out / 'report.md'), 'report_json': str(out / 'report.json'),
                       'figures': [str(out / entry['figure']) for entry in sections if entry['figure']],
                       'examples': [str(out / path) for entry in sections
                                    for path in entry['token_editing'].get('examples', [])]}
    _write_text(out / 'report.json', json.dumps(report, indent=2, allow_nan=False) + '\n')
    _write_text(out / 'report.md', render_markdown(report))
    return report


def _versions() -> dict[str, str]:
    import audiocraft

    return {'torch': torch.__version__, 'audiocraft': audiocraft.__version__, 'python': sys.version.split()[0]}


def _model_section(run: _ModelRun, dataset: EvaluationSet, resamples: int, out: Path) -> dict:
    points = {}
    for point in run.points:
        key = str(point['sample_rate'])
        values = run.point_values[key]
        points[key] = {**point, 'per_clip': values, 'aggregate': _aggregate_tree(values, resamples)}
    section: dict[str, tp.Any] = {'info': run.info, 'operating_points': points,
                                  'figure': str(run.figure.relative_to(out)) if run.figure else None}
    if not run.band_split:
        for key, what in (('band_analysis', "Band analysis"), ('inpainting', "Inpainting"),
                          ('token_editing', "Token editing")):
            section[key] = _not_applicable(run.model, what)
        return section
    section['signals'] = signal_names(run.model)
    section['band_analysis'] = {
        'applicable': True, 'bands': [band_label(band) for band in model_bands(run.model)],
        'crossover_hz': run.model.branch_rates[-2] / 2, 'crossover_width_hz': CROSSOVER_WIDTH_HZ,
        'per_clip': run.band_values,
        'aggregate': _aggregate_tree(run.band_values, resamples)}
    section['inpainting'] = {
        'applicable': True, 'cutoff_hz': run.model.branch_rates[-2] / 2, 'systems': dict(SYSTEMS),
        'per_clip': run.inpainting_values, 'aggregate': _aggregate_tree(run.inpainting_values, resamples)}
    pairs, values, written = run.edits
    if pairs:
        section['token_editing'] = {
            'applicable': True, 'low_codebooks': sum(run.model.codebooks_per_branch[:-1]), 'pairs': pairs,
            'variants': dict(VARIANTS), 'per_pair': values, 'aggregate': _aggregate_tree(values, resamples),
            'examples': [str(Path(path).relative_to(out)) for path in written]}
    else:
        section['token_editing'] = {'applicable': False, 'reason': "Token editing needs at least two clips."}
    return section


# ----------------------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "nan"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def _cell(stats: Mapping | None) -> str:
    if not stats:
        return "n/a"
    if stats.get('mean') is None:
        return "nan"
    text = f"{_fmt(stats['mean'])} [{_fmt(stats['ci_low'])}, {_fmt(stats['ci_high'])}]"
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A markdown table; the first `text_columns` columns are left-aligned, the others right-aligned."""
    align = ['---'] * text_columns + ['---:'] * (len(header) - text_columns)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def _get(tree: Mapping | None, *keys: str) -> tp.Any:
    for key in keys:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _band_text(label: str) -> str:
    low, high = (float(v) for v in label.split('-'))
    return f"{_khz(low)}-{_khz(high)} kHz"


def _arrow(higher_is_better: bool) -> str:
    return '↑' if higher_is_better else '↓'


def _section_rows(models: Mapping, section: str, row_specs: Sequence[tuple[str, Sequence[str]]]) -> list[list[str]]:
    rows = []
    for label, keys in row_specs:
        cells = []
        for entry in models.values():
            part = entry.get(section, {})
            cells.append(_cell(_get(part, 'aggregate', *keys)) if part.get('applicable') else "n/a")
        if any(cell != "n/a" for cell in cells):
            rows.append([label, *cells])
    return rows


def _reference_names(models: Mapping) -> dict[str, str]:
    """Signal names shared by every band-split model (rate-specific when their rates agree, else generic)."""
    names = [entry['signals'] for entry in models.values() if entry.get('signals')]
    if names and all(n == names[0] for n in names):
        return names[0]
    return {'low': 'U(lower)', 'high': 'd_top', 'output': 'y', 'input': 's'}


def render_markdown(report: Mapping) -> str:
    """`report.md` from the content of `report.json`."""
    models = report['models']
    names = list(models)
    header_models = [f"{name}" for name in names]
    data = report['data']
    sig = _reference_names(models)
    source = f"manifest `{data['manifest']}`" if data['manifest'] else "folder of audio files"
    lines = ["# Codec evaluation report", "",
             f"- Date: {report['date']}",
             f"- Command: `{report['command']}`",
             f"- Device: {report['device']}; torch {report['versions']['torch']}, audiocraft "
             f"{report['versions']['audiocraft']}, Python {report['versions']['python']}",
             f"- Data: `{data['source']}` ({source}): "
             f"{data['num_clips']} clip(s) from {data['num_files']} file(s), {data['total_duration']:.2f} s in total, "
             f"read at {data['sample_rate']} Hz"
             + (f", segments of {data['segment']:g} s ({data['segment_mode']})" if data['segment'] else "")
             + (f", at most {data['max_clips']} clips" if data['max_clips'] else "") + ".",
             f"- Values: mean over clips [95 % confidence interval] "
             f"({report['confidence_interval']['method']}, {report['confidence_interval']['resamples']} resamples). "
             f"↓ lower is better, ↑ higher is better; n/a: not applicable to that model.",
             "", "## Models", ""]
    rows = []
    for name, entry in models.items():
        info = entry['info']
        branches = ', '.join(f"{_khz(rate)} kHz x {k}" for rate, k in zip(info.get('branch_rates', []),
                                                                           info.get('codebooks_per_branch', [])))
        rows.append([name, f"`{info['checkpoint']}`", info['class'], f"{info['sample_rate']}",
                     branches or f"{info['num_codebooks']} codebooks", f"{info['cardinality']}",
                     f"{info['frame_rate']:g}", f"{info['bandwidth_kbps']:.3g}", "yes" if info['band_split'] else "no"])
    lines += [_table(['model', 'checkpoint', 'class', 'sample rate (Hz)', 'branches (rate x codebooks)',
                      'codebook size', 'frame rate (Hz)', 'bitrate (kbps)', 'band split'], rows, text_columns=5), ""]

    lines += ["## Objective metrics per operating point", ""]
    rates = sorted({int(rate) for entry in models.values() for rate in entry['operating_points']})
    for rate in rates:
        lines += [f"### {_khz(rate)} kHz output", ""]
        described = []
        for name, entry in models.items():
            point = entry['operating_points'].get(str(rate))
            if point:
                described.append(f"{name}: {point['estimate']} vs {point['reference']}, "
                                 f"{point['bandwidth_kbps']:.3g} kbps")
        lines += ["Estimate vs reference: " + "; ".join(described) + ".", ""]
        rows = []
        for metric in report['metrics']:
            cells = [_cell(_get(entry['operating_points'].get(str(rate)), 'aggregate', metric))
                     for entry in models.values()]
            rows.append([f"{METRIC_LABELS.get(metric, metric)} {_arrow(report['higher_is_better'][metric])}", *cells])
        lines += [_table(['metric', *header_models], rows), ""]

    lines += _band_section(models, sig, header_models)
    lines += _inpainting_section(models, sig, header_models)
    lines += _token_section(models, sig, header_models)

    lines += ["## Spectrograms", "", f"Clip {report['figure_clip']} "
              f"(`{data['clips'][report['figure_clip']]['name']}`). Band-split models: input, upsampled low-branch "
              f"output and high-branch output, crossover frequency dashed; other models: input and output. "
              f"Shared colour scale (dB) within each figure.", ""]
    for name, entry in models.items():
        if entry.get('figure'):
            lines += [f"**{name}**", "", f"![{name}]({entry['figure']})", ""]

    skipped = [(name, key, entry[key]['reason']) for name, entry in models.items()
               for key in ('band_analysis', 'inpainting', 'token_editing') if not entry[key]['applicable']]
    if skipped:
        lines += ["## Not applicable", ""]
        lines += [f"- {name}, {key.replace('_', ' ')}: {reason}" for name, key, reason in skipped]
        lines += [""]

    lines += ["## Definitions", ""]
    lines += [f"- {METRIC_LABELS.get(m, m)}: {report['metric_definitions'][m]}" for m in report['metrics']]
    lines += [
        f"- Operating points: a band-split model is scored at each branch rate; at the low rate the estimate is the "
        f"low-branch reconstruction (`branch_recons[0]`, {sig['low'].replace('U(', '').rstrip(')')}) and the reference "
        f"the clip downsampled by the model (`branch_targets[0]`); at the top rate the full output against the clip. "
        f"Other models are scored at their own rate only (`evaluation/report.py`).",
        "- Band SDR: `band_analysis.band_sdr`, SDR of the zero-phase FFT brick-wall band-limited estimate against "
        "the band-limited reference; crossover SDR: band SDR in a 1 kHz window centred on the crossover; energy "
        "share: projection coefficient of a contribution on the output in a band (shares of the contributions add "
        "up to 1); energy fraction: share of a signal's own energy in a band (`evaluation/band_analysis.py`).",
        "- Inpainting: the model codes the clip low-passed at the crossover (FFT brick wall); residual "
        "r = s_bl - U(d16); both y = U(d16) + d_top and U(d16) are compared with the original full-band clip "
        "(`evaluation/inpainting.py`).",
        "- Token editing: clip i paired with clip i + 1 (cyclically); variants decoded from edited codes and "
        "measured against the codec reconstructions of A and B (`evaluation/token_editing.py`).",
        "- Confidence intervals: `metrics.bootstrap_ci` (scipy BCa bootstrap of the mean, seed 0); clips where a "
        "metric is undefined (NaN) are left out of its mean.", ""]
    return '\n'.join(lines)


def _band_section(models: Mapping, sig: Mapping[str, str], header: Sequence[str]) -> list[str]:
    bands = []
    for entry in models.values():
        for band in entry['band_analysis'].get('bands', []):
            if band not in bands:
                bands.append(band)
    lines = ["## Band analysis", ""]
    if not bands:
        return lines + ["No band-split model: not applicable.", ""]
    lines += [f"{sig['low']}: upsampled output of the branches below the top one; {sig['high']}: top-branch output "
              f"(compared with its residual target {sig['input']} - {sig['low']}, and with {sig['input']}); "
              f"{sig['output']} = {sig['low']} + {sig['high']} against {sig['input']}. SDR in dB ↑; energy share "
              f"of {sig['output']}'s energy per band; energy fraction of the signal's own energy per band.", ""]
    specs: list[tuple[str, Sequence[str]]] = []
    crossovers = {entry['band_analysis']['crossover_hz'] for entry in models.values()
                  if entry['band_analysis'].get('applicable')}
    half = CROSSOVER_WIDTH_HZ / 2
    window = f" {_khz(min(crossovers) - half)}-{_khz(min(crossovers) + half)} kHz" if len(crossovers) == 1 else ""
    entries = [('low', f"{sig['low']} vs {sig['input']}"), ('high', f"{sig['high']} vs residual "
               f"{sig['input']} - {sig['low']}"), ('high_vs_input', f"{sig['high']} vs {sig['input']}"),
               ('output', f"{sig['output']} vs {sig['input']}")]
    for key, text in entries:
        specs += [(f"SDR {_band_text(band)}: {text}", (key, 'sdr', band)) for band in bands]
        specs.append((f"Crossover SDR{window}: {text}", (key, 'crossover_sdr')))
    for key in ('low', 'high'):
        specs += [(f"Energy share {_band_text(band)}: {sig[key]}", (key, 'energy_share', band)) for band in bands]
    for key in ('low', 'high', 'output'):
        specs += [(f"Energy fraction {_band_text(band)}: {sig[key]}", (key, 'energy_fraction', band)) for band in bands]
    lines += [_table(['measure', *header], _section_rows(models, 'band_analysis', specs)), ""]
    return lines


def _inpainting_section(models: Mapping, sig: Mapping[str, str], header: Sequence[str]) -> list[str]:
    lines = ["## Toy inpainting (bandwidth extension)", ""]
    if not any(entry['inpainting'].get('applicable') for entry in models.values()):
        return lines + ["No band-split model: not applicable.", ""]
    lines += [f"Input: the clip low-passed at the crossover (s_bl, FFT brick wall); the top branch codes "
              f"r = s_bl - {sig['low']} and must invent the upper band. Systems against the ORIGINAL full-band clip: "
              f"`band_split` = {sig['output']} = {sig['low']} + {sig['high']}, `upsampled_low` = {sig['low']} "
              f"(plain upsampling), `band_limited_input` = s_bl itself. High band = crossover to Nyquist; "
              f"high-band energy in dB relative to the original's.", ""]
    metric_keys = []
    for entry in models.values():
        for system in (_get(entry['inpainting'], 'aggregate', 'systems') or {}).values():
            metric_keys += [key for key in system if key not in metric_keys]
    labels = {'high_band_sdr': "High-band SDR (dB) ↑", 'high_band_energy_db': "High-band energy (dB, 0 = original)"}
    specs = []
    for system in ('band_split', 'upsampled_low', 'band_limited_input'):
        for key in metric_keys:
            label = labels.get(key) or f"{METRIC_LABELS.get(key, key)} {_arrow(HIGHER_IS_BETTER.get(key, True))}"
            specs.append((f"{system}: {label}", ('systems', system, key)))
    lines += [_table(['system: measure', *header], _section_rows(models, 'inpainting', specs)), ""]
    lines += ["Energy above the cutoff relative to each signal's own energy (dB): exact FFT measure, and the "
              "resampler stopband (from cutoff + 500 Hz, 10 ms fades; julius' upsampling transition band reaches "
              "just past the cutoff).", ""]
    specs = []
    for signal in ('band_limited_input', 'upsampled_low', 'residual', 'high_output'):
        specs += [(f"{signal}: above cutoff", ('levels', signal, 'above_cutoff_db')),
                  (f"{signal}: stopband", ('levels', signal, 'stopband_db'))]
    lines += [_table(['signal: level (dB)', *header], _section_rows(models, 'inpainting', specs)), ""]
    return lines


def _token_section(models: Mapping, sig: Mapping[str, str], header: Sequence[str]) -> list[str]:
    lines = ["## Band token editing", ""]
    if not any(entry['token_editing'].get('applicable') for entry in models.values()):
        return lines + ["Not applicable (no band-split model, or fewer than two clips).", ""]
    lines += ["Pairs (A, B) = (clip i, clip i + 1). " + "; ".join(f"`{key}`: {text}" for key, text in VARIANTS.items())
              + ". Measured against the codec reconstructions of A and B; low band = 0 to the crossover, high band = "
              "crossover to Nyquist. SDR and energy in dB; energy relative to the reconstruction's.", ""]
    specs = [(f"{variant}: {measure}", (variant, measure)) for variant in VARIANTS for measure in MEASURES]
    lines += [_table(['variant: measure', *header], _section_rows(models, 'token_editing', specs)), ""]
    examples = [(name, entry['token_editing'].get('examples')) for name, entry in models.items()
                if entry['token_editing'].get('examples')]
    for name, files in examples:
        lines += [f"Examples ({name}, first pair): " + ", ".join(f"[{Path(f).name}]({f})" for f in files), ""]
    return lines


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Score audio codecs (exported checkpoints) on a dataset: objective metrics at every "
                               "operating point with bootstrap confidence intervals, band analysis, toy inpainting, "
                               "band token editing and spectrograms. Writes report.md, report.json and figures.",
        epilog=f"Example: {PROG} --checkpoint bandsplit.th --checkpoint encodec.th --data outputs/corpus/evaluate "
               f"--out reports/eval --segment 2")
    parser.add_argument('--checkpoint', action='append', required=True, metavar='PATH',
                        help="exported checkpoint (.th); repeat to compare models side by side")
    parser.add_argument('--name', action='append', metavar='NAME', help="display name, one per --checkpoint")
    parser.add_argument('--data', required=True, metavar='PATH',
                        help="manifest (data.jsonl or .jsonl.gz), folder holding one, or folder of audio files")
    parser.add_argument('--out', required=True, metavar='FOLDER', help="report folder")
    parser.add_argument('--metrics', metavar='LIST',
                        help=f"comma-separated metrics among {','.join(METRICS)} "
                             f"(default: {','.join(DEFAULT_METRICS)})")
    parser.add_argument('--speech', action='store_true', help="add the speech metrics PESQ and STOI")
    parser.add_argument('--segment', type=float, metavar='SECONDS', help="cut files into segments of this length")
    parser.add_argument('--segment-mode', choices=SEGMENT_MODES, default='split',
                        help="split: every whole segment; crop: the first segment of each file (default: split)")
    parser.add_argument('--max-clips', type=int, metavar='N', help="score at most N clips")
    parser.add_argument('--device', default='cpu', help="torch device (default: cpu)")
    parser.add_argument('--figure-clip', type=int, default=0, metavar='I', help="clip drawn in the spectrograms")
    parser.add_argument('--bootstrap-resamples', type=int, default=9999, metavar='N',
                        help="bootstrap resamples of the confidence intervals (default: 9999)")
    parser.add_argument('--no-examples', action='store_true', help="do not write the token-editing example WAVs")
    parser.add_argument('-q', '--quiet', action='store_true', help="no progress bar, only warnings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 on success)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format='%(levelname)s: %(message)s',
                        stream=sys.stderr)
    command = shlex.join(['python', '-m', 'bandsplit_audiocraft.evaluation.report',
                          *(sys.argv[1:] if argv is None else argv)])
    try:
        report = make_report(args.checkpoint, args.data, args.out, names=args.name, metrics=args.metrics,
                             speech=args.speech, segment=args.segment, segment_mode=args.segment_mode,
                             max_clips=args.max_clips, device=args.device, figure_clip=args.figure_clip,
                             examples=not args.no_examples, progress=not args.quiet,
                             bootstrap_resamples=args.bootstrap_resamples, command=command)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    print(f"Wrote {report['files']['report_md']} and {report['files']['report_json']} "
          f"({report['data']['num_clips']} clips, {len(report['models'])} model(s)).")
    return 0


if __name__ == '__main__':
    sys.exit(main())
