"""The trials of a MUSHRA test (ITU-R BS.1534-3) built from the stimuli of the clips.

One trial per clip and operating point: the open reference, and as conditions the hidden reference, the 3.5 kHz
and 7 kHz anchors and every model's output at that rate. A band-split model therefore takes part in the 32 kHz
trials with its full output and in the 16 kHz trials with its low-branch stream; a model of another rate joins the
trials of its own rate. The page shuffles the trials and the conditions of each trial per listener
(`order.presentation_order`).
"""

from collections.abc import Sequence
import hashlib
import json
import typing as tp

from ..evaluation.sections import khz
from .stimuli import REFERENCE


def trial_id(clip_folder: str, sample_rate: int) -> str:
    """`'clip0_mixture', 32000` -> `'clip0_mixture@32kHz'`."""
    return f"{clip_folder}@{khz(sample_rate)}kHz"


def build_trials(clips: Sequence[dict[str, tp.Any]], rates: Sequence[int] | None = None) -> list[dict[str, tp.Any]]:
    """Trials of the clips' catalogue entries (`{'name', 'folder', 'stimuli': [...]}`, see `pages.make_pages`).

    Args:
        clips: Catalogue entries of the clips, each with its written stimuli.
        rates: Operating points to test (default: every rate with at least one model output), highest first.
    Returns:
        list: `{'id', 'clip', 'sample_rate', 'reference', 'conditions': [{'name', 'kind', 'audio'}]}` per trial,
        clip by clip, highest rate first; `reference` is the audio of the open reference.
    """
    trials = []
    for clip in clips:
        available = sorted({s['sample_rate'] for s in clip['stimuli'] if s['kind'] == 'model'}, reverse=True)
        chosen = available if rates is None else [rate for rate in sorted(rates, reverse=True) if rate in available]
        for rate in chosen:
            stimuli = [s for s in clip['stimuli'] if s['sample_rate'] == rate]
            reference = next(s for s in stimuli if s['condition'] == REFERENCE)
            trials.append({'id': trial_id(clip['folder'], rate), 'clip': clip['name'], 'sample_rate': rate,
                           'reference': reference['audio'],
                           'conditions': [{'name': s['condition'], 'kind': s['kind'], 'audio': s['audio']}
                                          for s in stimuli]})
    if not trials:
        raise ValueError(f"No MUSHRA trial: no model has an operating point at the rates asked ({list(rates or [])}).")
    return trials


def test_id(trials: Sequence[dict[str, tp.Any]]) -> str:
    """A short fingerprint of the trials (ids, conditions and files), stored in every result file."""
    text = json.dumps([[t['id'], [(c['name'], c['audio']) for c in t['conditions']]] for t in trials])
    return hashlib.sha256(text.encode()).hexdigest()[:12]
