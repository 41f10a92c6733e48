"""Perceptual scores: ViSQOL, wideband PESQ and STOI, registered in `metrics.METRICS` (opt-in, not default).

They are computed on the CPU by numpy packages (`visqol-python`, `pesq`, `pystoi`), channel by channel, and
are much slower than the distances of `metrics.py`. A clip such a score cannot be measured on (too short,
silent reference, no detected speech) gives NaN with a warning, or raises with `on_error='raise'`.
"""

from collections.abc import Callable
import functools
import math
import warnings

import julius
import numpy as np
import torch

from .metrics import metric

VISQOL_SAMPLE_RATE = 48000
PESQ_SAMPLE_RATE = 16000


def _fail(message: str, on_error: str) -> float:
    """Raise `message` as a ValueError, or warn and return NaN, following `on_error` ('raise' or 'nan')."""
    if on_error == 'raise':
        raise ValueError(message)
    warnings.warn(message + " Returning NaN.", RuntimeWarning, stacklevel=3)
    return math.nan


def _per_channel(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, new_rate: int | None,
                 score: Callable[[np.ndarray, np.ndarray], float]) -> torch.Tensor:
    """Resample to `new_rate` (if given) with julius, apply `score(est, ref)` to each channel of each clip
    as float64 numpy arrays, and average over channels."""
    x = est.detach().float()
    y = ref.detach().float()
    if new_rate is not None and new_rate != sample_rate:
        x = julius.resample_frac(x, int(sample_rate), int(new_rate))
        y = julius.resample_frac(y, int(sample_rate), int(new_rate))
    x_np = x.cpu().double().numpy()
    y_np = y.cpu().double().numpy()
    values = [float(np.mean([score(x_np[b, c], y_np[b, c]) for c in range(x_np.shape[1])]))
              for b in range(x_np.shape[0])]
    return torch.as_tensor(values, dtype=torch.float32).to(est.device)


@functools.lru_cache(maxsize=1)
def _visqol_api():
    from visqol import VisqolApi  # Imported lazily: it loads an SVR model and JIT-compiles numba kernels.

    api = VisqolApi()
    api.create(mode='audio')
    return api


@metric('visqol', "ViSQOL (MOS-LQO)", "ViSQOL v3 audio mode MOS-LQO at 48 kHz, through visqol-python "
        "(`metrics.visqol`).", higher_is_better=True, default=False)
def visqol(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, on_error: str = 'nan') -> torch.Tensor:
    """ViSQOL v3 audio mode MOS-LQO (1 to about 4.75; higher is better), through `visqol-python`.

    Both signals are resampled from `sample_rate` to 48 kHz with julius (windowed sinc), the rate ViSQOL's
    audio mode and its SVR mapping are built for, then scored by `VisqolApi.measure_from_arrays`
    (reference first), with the package's defaults: global alignment, search window 60, bundled SVR model.

    The first call in a process loads the SVR model (and, the first time on a machine, numba compiles its
    kernels). Clips shorter than about 1 s (45 spectrogram frames of ViSQOL's patch) or with a silent reference
    cannot be scored.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        on_error (str): 'nan' to warn and return NaN for clips that cannot be scored, 'raise' to raise.
    Returns:
        torch.Tensor: `[B]` MOS-LQO values.
    """
    api = _visqol_api()

    def score(x: np.ndarray, y: np.ndarray) -> float:
        if not np.any(y):
            return _fail("ViSQOL cannot score a clip whose reference is silent.", on_error)
        try:
            return float(api.measure_from_arrays(y, x, VISQOL_SAMPLE_RATE).moslqo)
        except (ValueError, RuntimeError, IndexError) as error:
            message = str(error).rstrip('.')
            return _fail(f"ViSQOL could not score a clip of {len(y) / VISQOL_SAMPLE_RATE:.3f} s: {message}.", on_error)

    return _per_channel(est, ref, sample_rate, VISQOL_SAMPLE_RATE, score)


@metric('pesq', "PESQ (wideband)", "Wideband PESQ (P.862.2) at 16 kHz (`metrics.pesq_score`).",
        higher_is_better=True, default=False, speech=True, aliases=('pesq_score',))
def pesq_score(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, on_error: str = 'nan') -> torch.Tensor:
    """Wideband PESQ (ITU-T P.862.2) MOS-LQO, about 1 to 4.64; higher is better. For speech only.

    Both signals are resampled from `sample_rate` to 16 kHz with julius and scored by the `pesq` package
    (`pesq(16000, ref, est, 'wb')`). PESQ needs at least 0.25 s of audio and detected speech activity in the
    reference: clips that are shorter, silent or without detected utterances cannot be scored.

    Arguments and result as `visqol`.
    """
    from pesq import PesqError, pesq

    def score(x: np.ndarray, y: np.ndarray) -> float:
        if len(y) < PESQ_SAMPLE_RATE // 4:
            return _fail(f"PESQ needs at least 0.25 s of audio, got {len(y) / PESQ_SAMPLE_RATE:.3f} s.", on_error)
        if not np.any(y):
            return _fail("PESQ cannot score a clip whose reference is silent.", on_error)
        try:
            return float(pesq(PESQ_SAMPLE_RATE, y, x, 'wb'))
        except PesqError as error:
            message = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
            return _fail(f"PESQ could not score a clip: {message}.", on_error)

    return _per_channel(est, ref, sample_rate, PESQ_SAMPLE_RATE, score)


@metric('stoi', "STOI", "STOI intelligibility, 0 to 1 (`metrics.stoi_score`).", higher_is_better=True,
        default=False, speech=True, aliases=('stoi_score',))
def stoi_score(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, extended: bool = False,
               on_error: str = 'nan') -> torch.Tensor:
    """STOI speech intelligibility (Taal et al., 2011), 0 to 1 (or extended STOI); higher is better.

    Computed by `pystoi.stoi(ref, est, sample_rate, extended)` on the signals at their own rate (pystoi
    resamples to 10 kHz and drops silent frames itself). STOI needs at least 30 frames of 256 samples at
    10 kHz with 50% overlap (about 0.4 s) of non-silent reference: for shorter or silent clips, where pystoi
    would return a meaningless 1e-5, this returns NaN (or raises).

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        extended (bool): Compute extended STOI (Jensen and Taal, 2016) instead.
        on_error (str): 'nan' to warn and return NaN for clips that cannot be scored, 'raise' to raise.
    Returns:
        torch.Tensor: `[B]` scores.
    """
    from pystoi import stoi

    def score(x: np.ndarray, y: np.ndarray) -> float:
        if not np.any(y):
            return _fail("STOI cannot score a clip whose reference is silent.", on_error)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            value = float(stoi(y, x, int(sample_rate), extended=extended))
        if any('Not enough STFT frames' in str(w.message) for w in caught):
            return _fail(f"STOI needs about 0.4 s of non-silent reference, got a clip of {len(y) / sample_rate:.3f} s "
                         "with too few active frames.", on_error)
        return value

    return _per_channel(est, ref, sample_rate, None, score)
