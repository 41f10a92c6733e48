"""The anchors of a MUSHRA test (ITU-R BS.1534-3): the reference low-passed at 3.5 kHz (low anchor) and at 7 kHz
(mid anchor).

The filter is julius' windowed-sinc low-pass filter with `ZEROS` zero crossings on each side, so that the
transition band is narrow (a few hundred hertz at 32 kHz) and the output keeps the reference's length and delay.

Example:
    >>> anchors = make_anchors(reference, 32000)  # doctest: +SKIP
    >>> list(anchors)  # doctest: +SKIP
    ['anchor_3.5kHz', 'anchor_7kHz']
"""

import julius
import torch

ANCHOR_CUTOFFS_HZ: tuple[float, ...] = (3500.0, 7000.0)
"""Cut-off frequencies of the low and mid anchors."""

ZEROS = 32
"""Zero crossings of the windowed sinc on each side: more is a sharper filter (and a longer one)."""


def anchor_name(cutoff_hz: float) -> str:
    """`3500.0` -> `'anchor_3.5kHz'`."""
    return f"anchor_{cutoff_hz / 1000:g}kHz"


def lowpass(wav: torch.Tensor, sample_rate: int, cutoff_hz: float) -> torch.Tensor:
    """`wav` (`[..., T]`) low-passed at `cutoff_hz`, same shape.

    Raises:
        ValueError: The cut-off is not below the Nyquist frequency.
    """
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"A low-pass anchor at {cutoff_hz:g} Hz needs a sample rate above {2 * cutoff_hz:g} Hz, "
                         f"got {sample_rate} Hz.")
    return julius.lowpass_filter(wav, cutoff_hz / sample_rate, zeros=ZEROS)


def make_anchors(reference: torch.Tensor, sample_rate: int,
                 cutoffs_hz: tuple[float, ...] = ANCHOR_CUTOFFS_HZ) -> dict[str, torch.Tensor]:
    """The anchors of `reference` (`[C, T]`): `anchor_name(cutoff) -> low-passed reference`, lowest first."""
    return {anchor_name(cutoff): lowpass(reference, sample_rate, cutoff) for cutoff in sorted(cutoffs_hz)}
