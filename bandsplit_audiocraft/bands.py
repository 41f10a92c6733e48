"""Band composition: the arithmetic that turns one signal into a ladder of band-limited branches.

A band-split codec codes a signal `x` sampled at the top rate `R_K` with branches at increasing sample
rates `R_1 < R_2 < ... < R_K`. Writing `D_k` for resampling down to `R_k` and `U_k` for resampling from
`R_{k-1}` up to `R_k` (windowed-sinc resampling from julius), the composition is::

    y_0 = 0
    r_k = D_k(x) - U_k(y_{k-1})      # residual coded by branch k, at rate R_k
    y_k = U_k(y_{k-1}) + d_k         # reconstruction at rate R_k, d_k = branch k's decoded output

so that `y_1 = d_1` is the low-band reconstruction and `y_K` the full-band output. Because branch 1 only
ever sees `D_1(x)`, which holds no energy above `R_1 / 2`, the split is *soft*: higher branches carry
mostly, but not only, the upper bands, and may correct the lower ones.

Lengths are exact for any input length: `padded_length` rounds a length up to whole frames so that every
branch sees exactly `frames * hop_k` samples (an integer for every branch when all branches share one
frame rate), and `resample` always returns the requested number of samples.

Example:
    >>> import torch
    >>> x = torch.randn(1, 1, 6400)
    >>> low = resample(x, 32000, 16000)
    >>> low.shape[-1]
    3200
    >>> residual = x - resample(low, 16000, 32000, length=x.shape[-1])
    >>> compose([low, residual], [16000, 32000])[-1].shape
    torch.Size([1, 1, 6400])
"""

import functools
import math
import typing as tp

import julius
import torch


@functools.lru_cache(maxsize=64)
def _resampler(old_sr: int, new_sr: int, device: torch.device, dtype: torch.dtype) -> julius.ResampleFrac:
    # The sinc kernels depend only on the reduced ratio: build them once per device and dtype. The kernel is
    # shared by every later call, whatever its grad mode: built as a normal tensor even when the first call
    # runs under `torch.inference_mode()` (e.g. long-audio coding), where it would be an inference tensor that
    # autograd refuses to save for a backward pass in a later training step.
    with torch.inference_mode(False):
        return julius.ResampleFrac(old_sr, new_sr).to(device=device, dtype=dtype)


def resample(x: torch.Tensor, old_sr: int, new_sr: int, length: tp.Optional[int] = None) -> torch.Tensor:
    """Resample `x` from `old_sr` to `new_sr` along its last axis with julius' windowed sinc.

    Args:
        x (torch.Tensor): Signal of shape `[*, T]`.
        old_sr (int): Sample rate of `x`.
        new_sr (int): Target sample rate.
        length (int, optional): Exact output length. Defaults to `ceil(T * new_sr / old_sr)`: the
            longest output julius can produce, so that resampling never drops a partial sample.
            A longer `length` is reached by zero-padding the end.
    Shape:
        - Input: `[*, T]`
        - Output: `[*, length]`
    """
    if old_sr <= 0 or new_sr <= 0:
        raise ValueError(f"Sample rates must be positive, got {old_sr} and {new_sr}.")
    if length is None:
        length = math.ceil(x.shape[-1] * new_sr / old_sr)
    if old_sr == new_sr:
        y = x
    else:
        y = _resampler(int(old_sr), int(new_sr), x.device, x.dtype)(x, full=True)
    if y.shape[-1] >= length:
        return y[..., :length]
    return torch.nn.functional.pad(y, (0, length - y.shape[-1]))


def padded_length(length: int, hop_length: int) -> int:
    """Smallest multiple of `hop_length` that is at least `length` (and at least one hop)."""
    if length <= 0:
        raise ValueError(f"The signal is empty: got {length} samples.")
    return max(1, math.ceil(length / hop_length)) * hop_length


def pad_to(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad (never crop) the last axis of `x` to `length` samples."""
    if x.shape[-1] > length:
        raise ValueError(f"Cannot pad a signal of {x.shape[-1]} samples to a shorter length {length}.")
    return torch.nn.functional.pad(x, (0, length - x.shape[-1]))


def branch_length(length: int, old_sr: int, new_sr: int) -> int:
    """Length at `new_sr` of a signal of `length` samples at `old_sr`, rounded up."""
    return math.ceil(length * new_sr / old_sr)


def lift(y: torch.Tensor, old_sr: int, new_sr: int) -> torch.Tensor:
    """Upsample a lower branch's reconstruction `y` (at `old_sr`) to the next rate `new_sr`.

    The output length is the one of the input at `new_sr`, so that `lift` is the exact length inverse
    of the downsampling done by `analysis` on padded signals.
    """
    return resample(y, old_sr, new_sr, length=branch_length(y.shape[-1], old_sr, new_sr))


def analysis(x: torch.Tensor, sample_rate: int, branch_rates: tp.Sequence[int]) -> tp.List[torch.Tensor]:
    """Downsample `x` (at `sample_rate`) to every branch rate: `[D_1(x), ..., D_K(x)]`.

    Shape:
        - Input: `[B, C, T]`
        - Output: list of `[B, C, ceil(T * R_k / sample_rate)]`
    """
    return [resample(x, sample_rate, sr, branch_length(x.shape[-1], sample_rate, sr)) for sr in branch_rates]


def residual(target: torch.Tensor, lower: tp.Optional[torch.Tensor]) -> torch.Tensor:
    """Residual coded by a branch: its band-limited target minus the lifted lower reconstruction.

    Args:
        target (torch.Tensor): `D_k(x)`, the input at the branch's rate, `[B, C, T_k]`.
        lower (torch.Tensor, optional): `U_k(y_{k-1})`, same shape, or None for the first branch.
    """
    if lower is None:
        return target
    if lower.shape != target.shape:
        raise ValueError(f"Residual shapes differ: target {tuple(target.shape)}, lower {tuple(lower.shape)}.")
    return target - lower


def compose(outputs: tp.Sequence[torch.Tensor], branch_rates: tp.Sequence[int]) -> tp.List[torch.Tensor]:
    """Sum branch outputs into the reconstruction at every rate: `[y_1, ..., y_K]`.

    Args:
        outputs (list of torch.Tensor): `d_k`, each at rate `R_k`, of shape `[B, C, T_k]`.
        branch_rates (list of int): `R_k`, increasing.
    Returns:
        list of torch.Tensor: `y_k = U_k(y_{k-1}) + d_k`; the last one is the full-band output.
    """
    if len(outputs) != len(branch_rates) or not outputs:
        raise ValueError(f"Got {len(outputs)} branch outputs for {len(branch_rates)} branch rates.")
    recons: tp.List[torch.Tensor] = []
    for k, (d, sr) in enumerate(zip(outputs, branch_rates)):
        if k == 0:
            recons.append(d)
        else:
            lower = resample(recons[-1], branch_rates[k - 1], sr, length=d.shape[-1])
            recons.append(lower + d)
    return recons
