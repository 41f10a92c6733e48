"""Scoring one codec on evaluation clips: metrics at every operating point, then every analysis.

A band-split model has one operating point per branch: at 16 kHz the low-branch reconstruction
`branch_recons[0]` against the 16 kHz reference `branch_targets[0]` (the clip downsampled by the model), at
32 kHz the full output `x` against the clip. Any other model (a stock audiocraft `EncodecModel`, a
single-branch model) is scored at its own rate only. The analyses of `ANALYSES` run on band-split models.
"""

from collections.abc import Callable, Sequence
import math
import os
from pathlib import Path
import re
import typing as tp

import torch

from ..bands import resample
from ..data.audio_io import convert_channels
from ..export import load_exported
from ..models.bandsplit import is_band_split
from ..utils import PathLike
from .band_analysis import BandAnalysis
from .figures import plot_band_split, plot_spectrograms
from .inpainting import Inpainting
from .metrics import compute_metrics
from .sections import Analysis, khz, signal_names
from .statistics import aggregate_tree, append_tree, to_floats
from .token_editing import TokenEditing

ANALYSES: tuple[type[Analysis], ...] = (BandAnalysis, Inpainting, TokenEditing)
"""The analyses of the report, in the order of its sections."""


def load_model(checkpoint: PathLike | torch.nn.Module, device: str = 'cpu') -> torch.nn.Module:
    """A codec in eval mode on `device`: an exported checkpoint (`CompressionModel.get_pretrained`) or a model."""
    model = checkpoint if isinstance(checkpoint, torch.nn.Module) else load_exported(checkpoint, device)
    for attribute in ('sample_rate', 'channels', 'encode', 'decode'):
        if not hasattr(model, attribute):
            raise ValueError(f"{type(model).__name__} is not a compression model: it has no {attribute!r}.")
    return model.to(device).eval()


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


class ModelRun:
    """Scores of one model on every clip, accumulated clip by clip (`score`), then summarised (`section`)."""

    def __init__(self, name: str, checkpoint: tp.Any, model: torch.nn.Module, metrics: Sequence[str],
                 analyses: bool = True):
        self.name, self.model, self.metrics = name, model, list(metrics)
        self.info = model_info(name, checkpoint, model)
        self.band_split = is_band_split(model)
        self.points = operating_points(model)
        self.point_values: dict[str, dict] = {str(p['sample_rate']): {} for p in self.points}
        self.analyses = [analysis(model) for analysis in ANALYSES if analyses and analysis.applies(model)]
        self.figure: Path | None = None

    def prepare(self, wav: torch.Tensor, sample_rate: int, device: str) -> torch.Tensor:
        """Clip `[C, T]` at `sample_rate` -> model input `[1, C', T']` at the model's rate and channels."""
        x = convert_channels(wav, int(self.model.channels))
        if sample_rate != self.model.sample_rate:
            length = math.ceil(x.shape[-1] * self.model.sample_rate / sample_rate)
            x = resample(x, sample_rate, int(self.model.sample_rate), length=length)
        return x[None].to(device)

    @torch.no_grad()
    def score(self, x: torch.Tensor, figure_path: Path | None = None, clip_name: str = '') -> dict[int, torch.Tensor]:
        """Score the model on one clip `x` `[1, C, T]` and store the values (and draw the figure if asked).

        Returns:
            dict: The model's output at each operating point, `sample_rate -> [1, C, T_rate]` (what was scored).
        """
        result = self.model(x)
        if self.band_split:
            estimates = list(result.branch_recons[:-1]) + [result.x]
            references = list(result.branch_targets[:-1]) + [x]
        else:
            estimates, references = [result.x[..., :x.shape[-1]]], [x]
        for point, est, ref in zip(self.points, estimates, references):
            scores = compute_metrics(est, ref, point['sample_rate'], self.metrics)
            append_tree(self.point_values[str(point['sample_rate'])], to_floats(scores))
        for analysis in self.analyses:
            analysis.add(x, result)
        if figure_path is not None:
            self.figure = self._plot(x, result, figure_path, f"{self.name}: {clip_name}" if clip_name else self.name)
        return {int(point['sample_rate']): est for point, est in zip(self.points, estimates)}

    def _plot(self, x: torch.Tensor, result: tp.Any, path: Path, title: str) -> Path:
        rate = int(self.model.sample_rate)
        if self.band_split:
            two = len(self.model.branches) == 2
            fig = plot_band_split(x[0], result.lifted_low[0], result.branch_outputs[-1][0], rate, title=title,
                                  crossover_hz=self.model.crossover_hz,
                                  low_rate_khz=self.model.branch_rates[0] / 1000 if two else None, path=path)
        else:
            panels = [(f"Input s{khz(rate)}", x[0]), (f"Output y{khz(rate)}", result.x[0, :, :x.shape[-1]])]
            fig = plot_spectrograms(panels, rate, crossover_hz=None, title=title, path=path)
        fig.clear()
        return path

    def section(self, resamples: int, clip: Callable[[int], torch.Tensor], out: Path, examples: bool) -> dict:
        """The model's entry of `report.json`: info, operating points, figure and one section per analysis."""
        points = {key: {**point, 'per_clip': self.point_values[key],
                        'aggregate': aggregate_tree(self.point_values[key], resamples)}
                  for point in self.points for key in [str(point['sample_rate'])]}
        section: dict[str, tp.Any] = {'info': self.info, 'operating_points': points,
                                      'figure': str(self.figure.relative_to(out)) if self.figure else None}
        if self.band_split:
            section['signals'] = signal_names(self.model.branch_rates)
        for analysis in ANALYSES:
            section[analysis.key] = analysis.not_applicable(self.model)
        examples_dir = out / 'examples' / slug(self.name) / 'token_editing' if examples else None
        for analysis in self.analyses:
            entry = analysis.finish(resamples, clip, examples_dir)
            if 'examples' in entry:
                entry['examples'] = [str(Path(path).relative_to(out)) for path in entry['examples']]
            section[analysis.key] = entry
        return section


def slug(name: str) -> str:
    """`name` as a file name."""
    return re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('._') or 'model'
