"""Per-clip objective metrics between an estimate and a reference, and bootstrap confidence intervals.

Every metric takes an estimate `est` and a reference `ref` of shape `[B, C, T]` at `sample_rate` and returns
one value per clip, a `[B]` float32 tensor on the device of `est`. Channels are treated as separate signals:
metrics that average over elements (mel, STFT, L1) average over channels too, and the others (SDR family,
ViSQOL, PESQ, STOI) are computed per channel and averaged over channels.

The spectral distances are DAC's losses (Kumar et al., 2023; `dac.nn.loss` of `descript-audio-codec`) with
their default settings, as DAC's evaluation script reports them, evaluated on each clip alone:

- `mel_distance`: `dac.nn.loss.MelSpectrogramLoss()`, L1 between log10 mel powers (mel magnitudes floored at
  1e-5, squared) plus L1 between mel magnitudes, summed over scales (windows 2048 and 512, 150 and 80 mel
  bands).
- `stft_distance`: `dac.nn.loss.MultiScaleSTFTLoss()`, L1 between log10 powers (magnitudes floored at 1e-5,
  squared) plus L1 between magnitudes, summed over scales (windows 2048 and 512).
- `waveform_l1`, `si_sdr`, `sdr`: time-domain distances.
- `visqol` (ViSQOL v3 audio mode, through `visqol-python`), `pesq_score` (wideband PESQ) and `stoi_score`:
  perceptual scores computed on the CPU with numpy; they are slow, and opt-in in `compute_metrics`.

`METRICS` maps metric names to functions and `compute_metrics` evaluates several at once. `bootstrap_ci`
summarises per-clip values as a mean with a bootstrap confidence interval.

Example:
    >>> import torch
    >>> ref = torch.randn(2, 1, 32000)
    >>> scores = compute_metrics(ref + 0.01 * torch.randn_like(ref), ref, 32000)
    >>> sorted(scores)
    ['mel_distance', 'sdr', 'si_sdr', 'stft_distance', 'waveform_l1']
    >>> scores['si_sdr'].shape
    torch.Size([2])
"""

from collections.abc import Callable, Sequence
import functools
import math
import warnings

import julius
import numpy as np
import torch

__all__ = [
    'DEFAULT_METRICS',
    'HIGHER_IS_BETTER',
    'METRICS',
    'bootstrap_ci',
    'check_signals',
    'compute_metrics',
    'mel_distance',
    'pesq_score',
    'sdr',
    'si_sdr',
    'stft_distance',
    'stoi_score',
    'visqol',
    'waveform_l1',
]

SDR_EPS = 1e-8
"""Added to both energies of the SDR ratios, so that silent or identical signals give finite values."""

VISQOL_SAMPLE_RATE = 48000
PESQ_SAMPLE_RATE = 16000


# ----------------------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------------------


def check_signals(est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> None:
    """Raise a ValueError unless `est` and `ref` are finite, non-empty `[B, C, T]` tensors of the same shape.

    Also checks that `sample_rate` is a positive integer.
    """
    for name, x in (('estimate', est), ('reference', ref)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"The {name} must be a torch.Tensor, got {type(x).__name__}.")
        if x.dim() != 3:
            raise ValueError(f"The {name} must have shape [B, C, T], got {x.dim()} dimensions {tuple(x.shape)}.")
        if x.numel() == 0:
            raise ValueError(f"The {name} is empty: shape {tuple(x.shape)}.")
        if not x.is_floating_point():
            raise ValueError(f"The {name} must be a floating point tensor, got {x.dtype}.")
        if not torch.isfinite(x).all():
            raise ValueError(f"The {name} contains NaN or infinite values.")
    if est.shape != ref.shape:
        raise ValueError(f"Estimate and reference shapes differ: {tuple(est.shape)} and {tuple(ref.shape)}.")
    _check_sample_rate(sample_rate)


def _check_sample_rate(sample_rate: int) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"The sample rate must be a positive integer, got {sample_rate!r}.")


def _check_window_fits(length: int, window_lengths: Sequence[int]) -> None:
    # Centered STFTs reflect-pad by half a window, which needs more samples than that.
    if not window_lengths:
        raise ValueError("At least one STFT window length is needed.")
    longest = max(window_lengths)
    if length <= longest // 2:
        raise ValueError(
            f"The signals ({length} samples) are too short for an STFT window of {longest} samples: "
            f"they need more than {longest // 2} samples.")


def _result(values: torch.Tensor | Sequence[float], like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float32).to(like.device)


def _fail(message: str, on_error: str) -> float:
    """Raise `message` as a ValueError, or warn and return NaN, following `on_error` ('raise' or 'nan')."""
    if on_error == 'raise':
        raise ValueError(message)
    if on_error != 'nan':
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}.")
    warnings.warn(message + " Returning NaN.", RuntimeWarning, stacklevel=3)
    return math.nan


# ----------------------------------------------------------------------------------------------------------
# Spectral distances (DAC's losses)
# ----------------------------------------------------------------------------------------------------------


def _dac_loss_per_clip(loss: torch.nn.Module, est: torch.Tensor, ref: torch.Tensor,
                       sample_rate: int) -> torch.Tensor:
    """`loss(AudioSignal(est[i:i+1]), AudioSignal(ref[i:i+1]))` for each clip `i` (a DAC loss averages over
    the batch), in float32 without gradient, as a `[B]` tensor on the device of `est`."""
    from audiotools import AudioSignal  # Imported lazily, as in `models/dac_branch.py`.

    x = est.detach().float()
    y = ref.detach().float()
    with torch.no_grad(), warnings.catch_warnings():
        # audiotools warns whenever a signal's STFT changes shape, i.e. at every scale after the first.
        warnings.filterwarnings('ignore', message='stft_data changed shape')
        values = [loss(AudioSignal(x[i:i + 1], int(sample_rate)), AudioSignal(y[i:i + 1], int(sample_rate)))
                  for i in range(x.shape[0])]
    return torch.stack(values).float().to(est.device)


def mel_distance(est: torch.Tensor, ref: torch.Tensor, sample_rate: int,
                 window_lengths: Sequence[int] = (2048, 512), n_mels: Sequence[int] = (150, 80),
                 clamp_eps: float = 1e-5) -> torch.Tensor:
    """Multi-scale mel distance: DAC's `dac.nn.loss.MelSpectrogramLoss()` on each clip; lower is better.

    With the default arguments (DAC's defaults) this is exactly `MelSpectrogramLoss()(AudioSignal(est[i:i+1],
    sample_rate), AudioSignal(ref[i:i+1], sample_rate))` for each clip `i`. The arguments are passed to
    `MelSpectrogramLoss(window_lengths=..., n_mels=..., clamp_eps=...)`, with `mel_fmin` 0 and `mel_fmax`
    `sample_rate / 2` at every scale. Definition, for each scale `s` with window `N_s` and `M_s` mel bands::

        M_s(x) = mel_fb(M_s) @ |STFT_{N_s}(x)|      # mel filterbank applied to the magnitude
        D_s    = mean | log10(max(M_s(est), eps)^2) - log10(max(M_s(ref), eps)^2) |  +  mean | M_s(est) - M_s(ref) |
        mel_distance = sum_s D_s

    with means over channels, mel bands and frames, a periodic Hann window of `N_s` samples, hop `N_s / 4`,
    centered frames (reflect padding), an unnormalised STFT (audiotools' `AudioSignal.stft`), librosa's
    default mel filterbank (Slaney scale and area normalisation) from 0 Hz to `sample_rate / 2`, and
    `eps = clamp_eps`. The same windows are used at every sample rate (at 16 kHz, 2048 samples are 128 ms
    instead of 64 ms at 32 kHz), so values at different rates are not directly comparable.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        window_lengths (sequence of int): STFT window of each scale (default 2048 and 512).
        n_mels (sequence of int): Number of mel bands of each scale (default 150 and 80).
        clamp_eps (float): Floor of the mel magnitudes before the log.
    Returns:
        torch.Tensor: `[B]` distances.
    """
    from dac.nn.loss import MelSpectrogramLoss

    check_signals(est, ref, sample_rate)
    if len(window_lengths) != len(n_mels):
        raise ValueError(f"Got {len(window_lengths)} window lengths for {len(n_mels)} mel band counts.")
    _check_window_fits(est.shape[-1], window_lengths)
    loss = MelSpectrogramLoss(n_mels=[int(m) for m in n_mels], window_lengths=[int(w) for w in window_lengths],
                              clamp_eps=clamp_eps, mel_fmin=[0.0] * len(n_mels), mel_fmax=[None] * len(n_mels))
    return _dac_loss_per_clip(loss, est, ref, sample_rate)


def stft_distance(est: torch.Tensor, ref: torch.Tensor, sample_rate: int,
                  window_lengths: Sequence[int] = (2048, 512), clamp_eps: float = 1e-5) -> torch.Tensor:
    """Multi-scale STFT distance: DAC's `dac.nn.loss.MultiScaleSTFTLoss()` on each clip; lower is better.

    With the default arguments (DAC's defaults) this is exactly `MultiScaleSTFTLoss()(AudioSignal(est[i:i+1],
    sample_rate), AudioSignal(ref[i:i+1], sample_rate))` for each clip `i`; the arguments are passed to
    `MultiScaleSTFTLoss(window_lengths=..., clamp_eps=...)`. Definition, for each scale `s` with window
    `N_s`, writing `X = |STFT_{N_s}(est)|`, `Y = |STFT_{N_s}(ref)|`::

        D_s = mean | log10(max(X, eps)^2) - log10(max(Y, eps)^2) |  +  mean | X - Y |
        stft_distance = sum_s D_s

    with means over channels, frequency bins and frames, a periodic Hann window of `N_s` samples, hop
    `N_s / 4`, centered frames (reflect padding), an unnormalised STFT (audiotools' `AudioSignal.stft`), and
    `eps = clamp_eps`: the floor is applied to the magnitude before squaring, so the log-power term is
    floored at `eps^2` in power. `sample_rate` is only checked: the windows are the same at every rate.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        window_lengths (sequence of int): STFT window of each scale (default 2048 and 512).
        clamp_eps (float): Floor of the magnitudes before the log.
    Returns:
        torch.Tensor: `[B]` distances.
    """
    from dac.nn.loss import MultiScaleSTFTLoss

    check_signals(est, ref, sample_rate)
    _check_window_fits(est.shape[-1], window_lengths)
    loss = MultiScaleSTFTLoss(window_lengths=[int(w) for w in window_lengths], clamp_eps=clamp_eps)
    return _dac_loss_per_clip(loss, est, ref, sample_rate)


# ----------------------------------------------------------------------------------------------------------
# Time-domain distances
# ----------------------------------------------------------------------------------------------------------


def waveform_l1(est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Mean absolute sample difference `mean_{c, t} |est - ref|`; lower is better.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals (only checked).
    Returns:
        torch.Tensor: `[B]` distances.
    """
    check_signals(est, ref, sample_rate)
    return (est.detach().double() - ref.detach().double()).abs().mean(dim=(1, 2)).float()


def si_sdr(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, eps: float = SDR_EPS) -> torch.Tensor:
    """Scale-invariant SDR in dB (Le Roux et al., 2019); higher is better.

    Definition, per channel, with `x = est - mean(est)` and `s = ref - mean(ref)` (mean over time)::

        alpha    = (<x, s> + eps) / (<s, s> + eps)
        target   = alpha * s
        si_sdr   = 10 log10( (|target|^2 + eps) / (|x - target|^2 + eps) )

    averaged over channels, computed in float64. `eps` keeps the value finite: identical (or scaled)
    signals give `10 log10(|s|^2 / eps)`, e.g. about 107 dB for one second of unit-variance noise at
    32 kHz, and two silent signals give 0 dB.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals (only checked).
        eps (float): Regulariser of the energies.
    Returns:
        torch.Tensor: `[B]` values in dB.
    """
    check_signals(est, ref, sample_rate)
    x = est.detach().double()
    s = ref.detach().double()
    x = x - x.mean(dim=-1, keepdim=True)
    s = s - s.mean(dim=-1, keepdim=True)
    alpha = ((x * s).sum(dim=-1, keepdim=True) + eps) / (s.pow(2).sum(dim=-1, keepdim=True) + eps)
    target = alpha * s
    noise = x - target
    ratio = (target.pow(2).sum(dim=-1) + eps) / (noise.pow(2).sum(dim=-1) + eps)
    return (10 * ratio.log10()).mean(dim=1).float()


def sdr(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, eps: float = SDR_EPS) -> torch.Tensor:
    """Plain signal-to-distortion ratio in dB; higher is better.

    Definition, per channel: `sdr = 10 log10( (|ref|^2 + eps) / (|ref - est|^2 + eps) )`, with squared norms
    summed over time, averaged over channels, computed in float64. Neither the mean nor the scale is removed:
    an estimate scaled by `g` has `sdr = -20 log10|1 - g|`, and a silent estimate has 0 dB.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals (only checked).
        eps (float): Regulariser of the energies.
    Returns:
        torch.Tensor: `[B]` values in dB.
    """
    check_signals(est, ref, sample_rate)
    x = est.detach().double()
    s = ref.detach().double()
    ratio = (s.pow(2).sum(dim=-1) + eps) / ((s - x).pow(2).sum(dim=-1) + eps)
    return (10 * ratio.log10()).mean(dim=1).float()


# ----------------------------------------------------------------------------------------------------------
# Perceptual scores (numpy packages, CPU)
# ----------------------------------------------------------------------------------------------------------


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
    return _result(values, est)


@functools.lru_cache(maxsize=1)
def _visqol_api():
    from visqol import VisqolApi  # Imported lazily: it loads an SVR model and JIT-compiles numba kernels.

    api = VisqolApi()
    api.create(mode='audio')
    return api


def visqol(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, on_error: str = 'nan') -> torch.Tensor:
    """ViSQOL v3 audio mode MOS-LQO (1 to about 4.75; higher is better), through `visqol-python`.

    Both signals are resampled from `sample_rate` to 48 kHz with julius (windowed sinc), the rate ViSQOL's
    audio mode and its SVR mapping are built for, then scored by `VisqolApi.measure_from_arrays`
    (reference first), with the package's defaults: global alignment, search window 60, bundled SVR model.

    Slow: the first call in a process takes about a second to load the model (and, the very first time on a
    machine, numba compiles and caches its kernels for 15-20 s); then about 0.15-0.3 s per second of audio
    on one CPU core. Clips shorter than about 1 s (45 spectrogram frames of ViSQOL's patch) or with a silent
    reference cannot be scored.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        on_error (str): 'nan' to warn and return NaN for clips that cannot be scored, 'raise' to raise.
    Returns:
        torch.Tensor: `[B]` MOS-LQO values.
    """
    check_signals(est, ref, sample_rate)
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


def pesq_score(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, on_error: str = 'nan') -> torch.Tensor:
    """Wideband PESQ (ITU-T P.862.2) MOS-LQO, about 1 to 4.64; higher is better. For speech only.

    Both signals are resampled from `sample_rate` to 16 kHz with julius and scored by the `pesq` package
    (`pesq(16000, ref, est, 'wb')`). PESQ needs at least 0.25 s of audio and detected speech activity in the
    reference: clips that are shorter, silent or without detected utterances cannot be scored.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        on_error (str): 'nan' to warn and return NaN for clips that cannot be scored, 'raise' to raise.
    Returns:
        torch.Tensor: `[B]` MOS-LQO values.
    """
    check_signals(est, ref, sample_rate)
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
    check_signals(est, ref, sample_rate)
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


# ----------------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------------

Metric = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]

METRICS: dict[str, Metric] = {
    'mel_distance': mel_distance,
    'stft_distance': stft_distance,
    'waveform_l1': waveform_l1,
    'si_sdr': si_sdr,
    'sdr': sdr,
    'visqol': visqol,
    'pesq': pesq_score,
    'stoi': stoi_score,
}
"""Metric name -> function `(est [B, C, T], ref [B, C, T], sample_rate) -> [B]`."""

HIGHER_IS_BETTER: dict[str, bool] = {
    'mel_distance': False,
    'stft_distance': False,
    'waveform_l1': False,
    'si_sdr': True,
    'sdr': True,
    'visqol': True,
    'pesq': True,
    'stoi': True,
}
"""Metric name -> whether a higher value means a better estimate."""

DEFAULT_METRICS: tuple[str, ...] = ('mel_distance', 'stft_distance', 'waveform_l1', 'si_sdr', 'sdr')
"""The fast metrics; ViSQOL, PESQ and STOI must be asked for by name."""


def compute_metrics(est: torch.Tensor, ref: torch.Tensor, sample_rate: int,
                    names: Sequence[str] = DEFAULT_METRICS) -> dict[str, torch.Tensor]:
    """Evaluate the metrics `names` (keys of `METRICS`) of `est` against `ref`.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        names (sequence of str): Metrics to compute, in order. Defaults to `DEFAULT_METRICS`.
    Returns:
        dict: metric name -> `[B]` per-clip values.
    """
    if isinstance(names, str):
        names = (names,)
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; available metrics are {sorted(METRICS)}.")
    check_signals(est, ref, sample_rate)
    return {name: METRICS[name](est, ref, sample_rate) for name in names}


# ----------------------------------------------------------------------------------------------------------
# Confidence intervals
# ----------------------------------------------------------------------------------------------------------


def bootstrap_ci(values: Sequence[float] | np.ndarray | torch.Tensor, confidence: float = 0.95,
                 n_resamples: int = 9999, seed: int = 0, method: str = 'BCa') -> tuple[float, float, float]:
    """Mean of per-clip `values` with a bootstrap confidence interval for the mean.

    Uses `scipy.stats.bootstrap` on the sample mean, with `method` 'BCa' (bias-corrected and accelerated,
    the default) or 'percentile', `n_resamples` resamples and a generator seeded with `seed`, so that the
    interval is reproducible. NaN values (clips a metric could not score) are dropped with a warning.
    With a single value, or values that are all equal, the interval is `(mean, mean, mean)`.

    Args:
        values: 1-D per-clip values.
        confidence (float): Confidence level, in (0, 1).
        n_resamples (int): Number of bootstrap resamples.
        seed (int): Seed of the resampling.
        method (str): 'BCa' or 'percentile'.
    Returns:
        tuple: `(mean, low, high)` as floats.
    """
    from scipy.stats import bootstrap

    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1:
        raise ValueError(f"bootstrap_ci expects a 1-D array of per-clip values, got shape {data.shape}.")
    if not 0 < confidence < 1:
        raise ValueError(f"The confidence level must lie strictly between 0 and 1, got {confidence}.")
    if method not in ('BCa', 'percentile'):
        raise ValueError(f"method must be 'BCa' or 'percentile', got {method!r}.")
    if np.isinf(data).any():
        raise ValueError("bootstrap_ci got infinite values.")
    nans = np.isnan(data)
    if nans.any():
        warnings.warn(f"bootstrap_ci dropped {int(nans.sum())} NaN value(s) out of {len(data)}.",
                      RuntimeWarning, stacklevel=2)
        data = data[~nans]
    if data.size == 0:
        raise ValueError("bootstrap_ci got no values (after dropping NaNs).")
    mean = float(data.mean())
    if data.size < 2 or np.all(data == data[0]):
        return mean, mean, mean
    result = bootstrap((data,), np.mean, n_resamples=int(n_resamples), confidence_level=confidence,
                       method=method, rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa can be undefined on near-degenerate data.
        result = bootstrap((data,), np.mean, n_resamples=int(n_resamples), confidence_level=confidence,
                           method='percentile', rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return mean, low, high
