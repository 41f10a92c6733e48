"""Per-clip objective metrics between an estimate and a reference, and their registry.

Every metric takes an estimate `est` and a reference `ref` of shape `[B, C, T]` at `sample_rate` and returns
one value per clip, a `[B]` float32 tensor on the device of `est`. Channels are treated as separate signals:
metrics that average over elements (mel, STFT, L1) average over channels too, and the others (SDR family,
ViSQOL, PESQ, STOI) are computed per channel and averaged over channels.

The spectral distances are DAC's losses (Kumar et al., 2023; `dac.nn.loss` of `descript-audio-codec`) with
their default settings, as DAC's evaluation script reports them, evaluated on each clip alone. ViSQOL, PESQ
and STOI are perceptual scores computed on the CPU with numpy; they are slow and opt-in.

`METRICS` is the registry: name -> `Metric` (function, label, definition, direction). A metric is added by
decorating its function with `@metric(...)`; `compute_metrics`, the evaluation report and its Markdown read
everything else from the registry. Inputs are checked once, by the outermost metric called
(`checks_signals`): metrics called from inside another metric or an analysis trust them.

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
import contextlib
import contextvars
from dataclasses import dataclass
import functools
import typing as tp
import warnings

import numpy as np
import torch

__all__ = [
    'DEFAULT_METRICS',
    'METRICS',
    'Metric',
    'check_signals',
    'checks_signals',
    'compute_metrics',
    'mel_distance',
    'metric',
    'resolve_metrics',
    'sdr',
    'si_sdr',
    'stft_distance',
    'trusted',
    'waveform_l1',
]

SDR_EPS = 1e-8
"""Added to both energies of the SDR ratios, so that silent or identical signals give finite values."""


# ----------------------------------------------------------------------------------------------------------
# Input checks, once per call from outside
# ----------------------------------------------------------------------------------------------------------

_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar('bandsplit_signals_checked', default=False)


def check_signals(est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> None:
    """Raise a ValueError unless `est` and `ref` are finite, non-empty floating point `[B, C, T]` tensors of
    the same shape and `sample_rate` is a positive integer."""
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
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"The sample rate must be a positive integer, got {sample_rate!r}.")


def inputs_checked() -> bool:
    """Whether the current call runs inside a metric or an analysis that already checked its signals."""
    return _CHECKED.get()


@contextlib.contextmanager
def trusted() -> tp.Iterator[None]:
    """Within the block, metrics do not check their signals again (the caller has)."""
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


F = tp.TypeVar('F', bound=Callable[..., tp.Any])


def checks_signals(signals: int = 2) -> Callable[[F], F]:
    """Decorator: check the function's `signals` leading tensors and the `sample_rate` after them with
    `check_signals`, unless an enclosing checked call already did; calls made inside are trusted."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: tp.Any, **kwargs: tp.Any) -> tp.Any:
            if _CHECKED.get():
                return function(*args, **kwargs)
            check_signals(args[0], args[signals - 1], args[signals] if len(args) > signals else kwargs['sample_rate'])
            with trusted():
                return function(*args, **kwargs)
        return tp.cast(F, wrapper)
    return decorate


def _check_window_fits(length: int, window_lengths: Sequence[int]) -> None:
    # Centered STFTs reflect-pad by half a window, which needs more samples than that.
    longest = max(window_lengths)
    if length <= longest // 2:
        raise ValueError(
            f"The signals ({length} samples) are too short for an STFT window of {longest} samples: "
            f"they need more than {longest // 2} samples.")


# ----------------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------------

Signature = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class Metric:
    """A registered metric: `function(est [B, C, T], ref [B, C, T], sample_rate) -> [B]` and how to show it.

    Attributes:
        name: Key in `METRICS`, in reports and in JSON files.
        function: The metric.
        label: Column or row label in tables, with its unit.
        definition: One sentence for the report's definitions.
        higher_is_better: Direction of the metric.
        default: Computed when no metric is named.
        speech: A speech metric, added by `resolve_metrics(..., speech=True)`.
        aliases: Other names accepted on the command line.
    """
    name: str
    function: Signature
    label: str
    definition: str
    higher_is_better: bool
    default: bool = True
    speech: bool = False
    aliases: tuple[str, ...] = ()

    def __call__(self, est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> torch.Tensor:
        return self.function(est, ref, sample_rate)

    @property
    def arrow(self) -> str:
        return '↑' if self.higher_is_better else '↓'


METRICS: dict[str, Metric] = {}
"""Metric name -> `Metric`, in the order metrics are reported."""


def metric(name: str, label: str, definition: str, higher_is_better: bool, default: bool = True,
           speech: bool = False, aliases: Sequence[str] = ()) -> Callable[[F], F]:
    """Decorator registering a metric function in `METRICS` (its inputs checked by `checks_signals`)."""
    def register(function: F) -> F:
        checked = checks_signals()(function)
        METRICS[name] = Metric(name, checked, label, definition, higher_is_better, default, speech, tuple(aliases))
        return checked
    return register


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


@metric('mel_distance', "Mel distance", "DAC's `MelSpectrogramLoss()` with default settings, per clip: L1 "
        "between log10 mel powers plus L1 between mel magnitudes, summed over two scales (windows 2048/512, "
        "150/80 mel bands, hop = window / 4) (`metrics.mel_distance`).", higher_is_better=False, aliases=('mel',))
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

    if len(window_lengths) != len(n_mels):
        raise ValueError(f"Got {len(window_lengths)} window lengths for {len(n_mels)} mel band counts.")
    _check_window_fits(est.shape[-1], window_lengths)
    loss = MelSpectrogramLoss(n_mels=[int(m) for m in n_mels], window_lengths=[int(w) for w in window_lengths],
                              clamp_eps=clamp_eps, mel_fmin=[0.0] * len(n_mels), mel_fmax=[None] * len(n_mels))
    return _dac_loss_per_clip(loss, est, ref, sample_rate)


@metric('stft_distance', "STFT distance", "DAC's `MultiScaleSTFTLoss()` with default settings, per clip: L1 "
        "between log10 powers plus L1 between magnitudes, summed over windows 2048 and 512 "
        "(`metrics.stft_distance`).", higher_is_better=False, aliases=('stft',))
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

    _check_window_fits(est.shape[-1], window_lengths)
    loss = MultiScaleSTFTLoss(window_lengths=[int(w) for w in window_lengths], clamp_eps=clamp_eps)
    return _dac_loss_per_clip(loss, est, ref, sample_rate)


# ----------------------------------------------------------------------------------------------------------
# Time-domain distances
# ----------------------------------------------------------------------------------------------------------


@metric('waveform_l1', "Waveform L1", "Mean absolute sample difference (`metrics.waveform_l1`).",
        higher_is_better=False, aliases=('l1',))
def waveform_l1(est: torch.Tensor, ref: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Mean absolute sample difference `mean_{c, t} |est - ref|`; lower is better.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals (only checked).
    Returns:
        torch.Tensor: `[B]` distances.
    """
    return (est.detach().double() - ref.detach().double()).abs().mean(dim=(1, 2)).float()


@metric('si_sdr', "SI-SDR (dB)", "Scale-invariant SDR in dB, means removed (`metrics.si_sdr`).",
        higher_is_better=True)
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
    x = est.detach().double()
    s = ref.detach().double()
    x = x - x.mean(dim=-1, keepdim=True)
    s = s - s.mean(dim=-1, keepdim=True)
    alpha = ((x * s).sum(dim=-1, keepdim=True) + eps) / (s.pow(2).sum(dim=-1, keepdim=True) + eps)
    target = alpha * s
    noise = x - target
    ratio = (target.pow(2).sum(dim=-1) + eps) / (noise.pow(2).sum(dim=-1) + eps)
    return (10 * ratio.log10()).mean(dim=1).float()


@metric('sdr', "SDR (dB)", "Plain SDR in dB, `10 log10(|ref|^2 / |ref - est|^2)` (`metrics.sdr`).",
        higher_is_better=True)
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
    x = est.detach().double()
    s = ref.detach().double()
    ratio = (s.pow(2).sum(dim=-1) + eps) / ((s - x).pow(2).sum(dim=-1) + eps)
    return (10 * ratio.log10()).mean(dim=1).float()


# ----------------------------------------------------------------------------------------------------------
# Selection and computation
# ----------------------------------------------------------------------------------------------------------


def resolve_metrics(names: str | Sequence[str] | None = None, speech: bool = False) -> list[str]:
    """Metric names from a comma-separated string or a list (aliases such as 'mel' or 'pesq_score' accepted),
    plus the speech metrics when `speech`; None gives `DEFAULT_METRICS`."""
    if names is None:
        chosen = list(DEFAULT_METRICS)
    else:
        aliases = {alias: m.name for m in METRICS.values() for alias in m.aliases}
        chosen = [aliases.get(n.strip(), n.strip()) for n in (names.split(',') if isinstance(names, str) else names)
                  if n.strip()]
    if speech:
        chosen += [m.name for m in METRICS.values() if m.speech]
    unknown = [n for n in chosen if n not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; available metrics are {', '.join(METRICS)}.")
    if not chosen:
        raise ValueError("At least one metric is needed.")
    return list(dict.fromkeys(chosen))


@checks_signals()
def compute_metrics(est: torch.Tensor, ref: torch.Tensor, sample_rate: int,
                    names: str | Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Evaluate the metrics `names` (see `resolve_metrics`; default `DEFAULT_METRICS`) of `est` against `ref`.

    Returns:
        dict: metric name -> `[B]` per-clip values, in the order asked.
    """
    return {name: METRICS[name](est, ref, sample_rate) for name in resolve_metrics(names)}


DEFAULT_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS.values() if m.default)
"""The fast metrics; ViSQOL, PESQ and STOI must be asked for by name."""
