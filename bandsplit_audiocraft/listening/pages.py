"""The listening pages: a demo page and a MUSHRA test page, written as one static folder that opens from disk.

`make_pages` takes the inputs of the evaluation report (exported checkpoints and a manifest or folder of clips,
loaded by `report.load_inputs`), runs every model on every clip with the report's `scoring.ModelRun` (so the
outputs and per-clip metrics are the report's), and writes::

    <out>/index.html            demo page: per clip the reference and every output, with spectrograms and metrics
    <out>/mushra.html           MUSHRA test (ITU-R BS.1534-3), the trials embedded in the page
    <out>/assets/               the page's script and style sheet (no network access needed)
    <out>/audio/<clip>/*.wav    loudness-matched stimuli (BS.1770, `loudness.py`), 16-bit PCM
    <out>/spectrograms/<clip>/*.png
    <out>/pages.json            the catalogue: models, clips, stimuli (loudness, gain, metrics), trials

Every path in the pages is relative, so the folder can be moved, zipped or served as it is.
"""

from collections.abc import Sequence
import datetime
import json
import logging
from pathlib import Path
import shutil
import sys
import typing as tp

import torch
from tqdm import tqdm

from ..evaluation.dataset import EvaluationSet
from ..evaluation.metrics import METRICS, resolve_metrics
from ..evaluation.report import load_inputs, model_names
from ..evaluation.scoring import ModelRun, slug
from ..evaluation.statistics import json_safe
from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes
from ..utils.devices import resolve_device
from .anchors import ANCHOR_CUTOFFS_HZ, anchor_name
from .demo_page import render_demo
from .loudness import DEFAULT_TARGET_LUFS
from .mushra_page import render_mushra
from .stimuli import REFERENCE, clip_stimuli, write_stimuli
from .trials import build_trials, test_id

logger = logging.getLogger(__name__)

FORMAT = 'bandsplit-listening-pages'
STATIC = Path(__file__).parent / 'static'
ASSETS: tuple[str, ...] = ('mushra.js', 'style.css')


def check_names(names: Sequence[str]) -> None:
    """Model names must not be taken for the reference or an anchor."""
    reserved = {REFERENCE, *(anchor_name(cutoff) for cutoff in ANCHOR_CUTOFFS_HZ)}
    for name in names:
        if name in reserved:
            raise ValueError(f"A model cannot be named {name!r}: the name is the {name.split('_')[0]}'s in the "
                             f"listening test (see --name).")


def make_pages(checkpoints: Sequence[PathLike | torch.nn.Module], data: PathLike | EvaluationSet, out: PathLike, *,
               names: Sequence[str] | None = None, metrics: str | Sequence[str] | None = None,
               segment: float | None = None, segment_mode: str = 'split', max_clips: int | None = None,
               device: str = 'cpu', loudness: float = DEFAULT_TARGET_LUFS, rates: Sequence[int] | None = None,
               spectrograms: bool = True, title: str = 'Band-split codec listening test', progress: bool = True,
               command: str | None = None) -> dict[str, tp.Any]:
    """Write the demo page, the MUSHRA page and their audio to `out` (see the module docstring).

    Args:
        checkpoints, data, names, metrics, segment, segment_mode, max_clips, device: As for
            `report.make_report`.
        out: Output folder, created if needed; the files of an earlier run of this command are replaced.
        loudness: Target loudness of every stimulus, LUFS.
        rates: Operating points with MUSHRA trials (default: every rate of a model output).
        spectrograms: Draw a spectrogram of every stimulus.
        title: Title of both pages.
        progress: Show a progress bar on stderr.
        command: Command line recorded in `pages.json`.
    Returns:
        dict: The content of `pages.json`.
    """
    if not checkpoints:
        raise ValueError("At least one checkpoint is needed.")
    metric_names = resolve_metrics(metrics)
    device = resolve_device(device)
    display_names = model_names(checkpoints, names)
    check_names(display_names)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"The output folder {str(out)!r} exists and is not a folder.")
    models, dataset = load_inputs(checkpoints, data, device, segment=segment, segment_mode=segment_mode,
                                  max_clips=max_clips)
    runs = [ModelRun(name, checkpoint, model, metric_names, analyses=False)
            for name, checkpoint, model in zip(display_names, checkpoints, models)]
    if (out / 'pages.json').is_file():  # an earlier run of this command: its stimuli go
        for folder in ('audio', 'spectrograms'):
            shutil.rmtree(out / folder, ignore_errors=True)
    clips = []
    used: set[str] = set()
    for index, clip in enumerate(tqdm(dataset.clips, desc='stimuli', unit='clip', disable=not progress,
                                      file=sys.stderr)):
        folder = f"clip{index}_{slug(clip.name)}"
        while folder in used:
            folder += '_'
        used.add(folder)
        stimuli = write_stimuli(clip_stimuli(clip, runs, device), out, folder, loudness, spectrograms)
        clips.append({'name': clip.name, 'folder': folder, 'source': clip.path, 'offset': clip.offset,
                      'duration': clip.duration, 'stimuli': stimuli})
    trials = build_trials(clips, rates)
    catalogue = json_safe({
        'format': FORMAT, 'version': 1, 'title': title, 'test': test_id(trials),
        'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'), 'command': command,
        'loudness_lufs': loudness, 'data': dataset.describe(with_clips=False),
        'metrics': {name: {'label': METRICS[name].label, 'higher_is_better': METRICS[name].higher_is_better}
                    for name in metric_names},
        'models': {run.name: run.info for run in runs},
        'anchors_hz': list(ANCHOR_CUTOFFS_HZ),
        'clips': clips, 'trials': trials,
    })
    (out / 'assets').mkdir(parents=True, exist_ok=True)
    for asset in ASSETS:
        atomic_write_bytes(out / 'assets' / asset, (STATIC / asset).read_bytes(), overwrite=True)
    atomic_write_bytes(out / 'pages.json', (json.dumps(catalogue, indent=2, allow_nan=False) + '\n').encode(),
                       overwrite=True)
    atomic_write_bytes(out / 'index.html', render_demo(catalogue).encode(), overwrite=True)
    atomic_write_bytes(out / 'mushra.html', render_mushra(catalogue).encode(), overwrite=True)
    return catalogue
