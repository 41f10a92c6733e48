"""The stimuli of one clip: its reference, each model's output at each operating point, and the MUSHRA anchors,
loudness-matched and written as WAV files with their spectrograms.

A model's outputs are the ones the evaluation report scores (`scoring.ModelRun.score`): a band-split model gives
its full output at the top rate (32 kHz) and its low-branch reconstruction at the low branch's rate (the 16 kHz
stream); any other model gives its output at its own rate. The reference at a rate is the clip resampled to it
(julius), as the report's references are. Each stimulus keeps the clip's metrics of the output it is.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
import logging
import math
from pathlib import Path
import typing as tp

import torch

from ..bands import resample
from ..data.audio_io import write_wav
from ..evaluation.dataset import EvalClip
from ..evaluation.figures import plot_spectrograms
from ..evaluation.scoring import ModelRun, slug
from ..evaluation.sections import khz
from .anchors import make_anchors
from .loudness import match_loudness

logger = logging.getLogger(__name__)

REFERENCE = 'reference'
"""Condition name of the reference (and of the hidden reference of a MUSHRA trial)."""

KINDS: tuple[str, ...] = ('reference', 'anchor', 'model')


@dataclass
class Stimulus:
    """One signal a listener hears.

    Attributes:
        condition: Condition name: `REFERENCE`, an anchor name (`anchors.anchor_name`) or a model name.
        kind: 'reference', 'anchor' or 'model'.
        sample_rate: Rate of `wav` (the operating point).
        wav: Samples `[C, T]`.
        metrics: The clip's metrics of a model output at this operating point (empty for the others).
    """
    condition: str
    kind: str
    sample_rate: int
    wav: torch.Tensor
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """File name stem, unique within a clip: condition and rate, e.g. `bandsplit_16kHz`."""
        return f"{slug(self.condition)}_{khz(self.sample_rate)}kHz"

    @property
    def label(self) -> str:
        """Readable label, e.g. `bandsplit (16 kHz)`."""
        return f"{self.condition} ({khz(self.sample_rate)} kHz)"


def model_stimuli(run: ModelRun, clip: EvalClip, device: str) -> list[Stimulus]:
    """The outputs of `run`'s model on `clip` at every operating point, scored on the way (`ModelRun.score`)."""
    x = run.prepare(clip.wav, clip.sample_rate, device)
    outputs = run.score(x, None, clip.name)
    stimuli = []
    for rate, wav in outputs.items():
        values = run.point_values[str(rate)]
        metrics = {name: float(values[name][-1]) for name in run.metrics if name in values}
        stimuli.append(Stimulus(run.name, 'model', rate, wav[0].detach().cpu().float(), metrics))
    return stimuli


def reference_at(clip: EvalClip, rate: int) -> torch.Tensor:
    """The clip `[C, T]` resampled to `rate` (`ceil(T * rate / clip rate)` samples)."""
    if rate == clip.sample_rate:
        return clip.wav
    length = math.ceil(clip.wav.shape[-1] * rate / clip.sample_rate)
    return resample(clip.wav, clip.sample_rate, rate, length=length)


def clip_stimuli(clip: EvalClip, runs: Sequence[ModelRun], device: str) -> list[Stimulus]:
    """Every stimulus of `clip`: per rate (highest first) the reference, the anchors, then the models' outputs."""
    outputs = [stimulus for run in runs for stimulus in model_stimuli(run, clip, device)]
    stimuli = []
    for rate in sorted({s.sample_rate for s in outputs}, reverse=True):
        reference = reference_at(clip, rate).float()
        stimuli.append(Stimulus(REFERENCE, 'reference', rate, reference))
        stimuli += [Stimulus(name, 'anchor', rate, wav) for name, wav in make_anchors(reference, rate).items()]
        stimuli += [s for s in outputs if s.sample_rate == rate]
    return stimuli


def write_stimuli(stimuli: Sequence[Stimulus], out: Path, clip_folder: str, target_lufs: float,
                  spectrograms: bool = True) -> list[dict[str, tp.Any]]:
    """Loudness-match every stimulus to `target_lufs` and write `audio/<clip_folder>/<id>.wav` (16-bit PCM) and,
    but for the anchors, `spectrograms/<clip_folder>/<id>.png` under `out`.

    Returns:
        list: One JSON-friendly entry per stimulus (paths relative to `out`, loudness before and gain applied).
    """
    entries = []
    for stimulus in stimuli:
        wav, gain_db, before = match_loudness(stimulus.wav, stimulus.sample_rate, target_lufs)
        peak = float(wav.abs().max())
        if peak > 1:
            logger.warning("%s of clip %s peaks at %.2f after loudness matching: it is clipped in its WAV file "
                           "(choose a lower --loudness).", stimulus.label, clip_folder, peak)
        if gain_db is None:
            logger.warning("%s of clip %s is too quiet to measure its loudness: written unchanged.",
                           stimulus.label, clip_folder)
        audio = write_wav(out / 'audio' / clip_folder / f'{stimulus.id}.wav', wav, stimulus.sample_rate,
                          overwrite=True)
        entry = {'id': stimulus.id, 'condition': stimulus.condition, 'kind': stimulus.kind, 'label': stimulus.label,
                 'sample_rate': stimulus.sample_rate, 'audio': audio.relative_to(out).as_posix(),
                 'loudness_lufs': before if math.isfinite(before) else None, 'gain_db': gain_db,
                 'peak': min(peak, 1.0), 'metrics': stimulus.metrics, 'spectrogram': None}
        if spectrograms and stimulus.kind != 'anchor':  # the demo page, which shows spectrograms, has no anchors
            path = out / 'spectrograms' / clip_folder / f'{stimulus.id}.png'
            plot_spectrograms([(stimulus.label, wav)], stimulus.sample_rate, crossover_hz=None, path=path,
                              panel_size=(4.0, 2.4), dpi=72).clear()
            entry['spectrogram'] = path.relative_to(out).as_posix()
        entries.append(entry)
    return entries
