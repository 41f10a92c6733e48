"""Loudness matching of listening stimuli: integrated loudness after ITU-R BS.1770 (K-weighted, gated), measured
with `pyloudnorm`, and a gain that brings a signal to a target loudness in LUFS.

Every stimulus of the demo and MUSHRA pages is played at the same loudness, so that listeners compare codecs and
not levels. The integrated loudness needs at least one gating block (400 ms) of audio.

Example:
    >>> wav, gain_db, before = match_loudness(wav, 32000, target_lufs=-23.0)  # doctest: +SKIP
"""

import math

import numpy as np
import torch

DEFAULT_TARGET_LUFS = -23.0
"""Target loudness of every stimulus (EBU R 128 programme level)."""

BLOCK_SECONDS = 0.4
"""Length of one BS.1770 gating block: the shortest signal whose integrated loudness is defined."""


def integrated_loudness(wav: torch.Tensor | np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of `wav` (`[C, T]` or `[T]`) in LUFS; `-inf` for a signal below the absolute gate.

    Raises:
        ValueError: The signal is shorter than one gating block.
    """
    import pyloudnorm

    data = torch.as_tensor(wav).detach().cpu().double().numpy()
    if data.ndim == 1:
        data = data[None]
    if data.ndim != 2:
        raise ValueError(f"Loudness is measured on [C, T] or [T] signals, got shape {data.shape}.")
    if data.shape[-1] < BLOCK_SECONDS * sample_rate:
        raise ValueError(f"A signal of {data.shape[-1] / sample_rate:.3f} s is too short for a BS.1770 loudness "
                         f"measurement (at least {BLOCK_SECONDS} s).")
    with np.errstate(divide='ignore'):
        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(data.T))


def match_loudness(wav: torch.Tensor, sample_rate: int,
                   target_lufs: float = DEFAULT_TARGET_LUFS) -> tuple[torch.Tensor, float | None, float]:
    """`wav` (`[C, T]`) scaled to `target_lufs`.

    Returns:
        tuple: `(scaled wav, gain in dB or None, loudness before in LUFS)`. A signal too quiet to be measured
        (below the absolute gate of BS.1770) is returned unchanged with a gain of None.
    """
    before = integrated_loudness(wav, sample_rate)
    if not math.isfinite(before):
        return wav, None, before
    gain_db = target_lufs - before
    return wav * 10 ** (gain_db / 20), gain_db, before
