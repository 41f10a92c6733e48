"""Toy inpainting / bandwidth extension: the high branch must invent the upper band of a band-limited input.

The experiment of the band-split codec paper, in one place. For the paper's two-branch codec (16 kHz and
32 kHz branches), with `s32` the original full-band clip `[B, C, T]` at 32 kHz::

    s_bl = band_filter(s32, 32000, 0, 8000)    # band-limited input: zero-phase FFT brick wall, nothing >= 8 kHz
    s16  = D(s_bl)                              # low-branch input (julius windowed-sinc resampling to 16 kHz)
    d16  = low branch (encode, quantize, decode) of s16
    U(d16)                                      # d16 upsampled to 32 kHz (julius), the plain-upsampling baseline
    r    = s_bl - U(d16)                        # residual of the band-limited input: the high branch's input
    d32  = high branch (encode, quantize, decode) of r
    y32  = U(d16) + d32                         # band-split output

This is exactly what `model(s_bl)` computes (the model forms the residual itself, on `s_bl` zero-padded to
whole frames), so nothing here re-implements the codec: `inpaint` runs `model(s_bl)` and reads `d32` from
`branch_outputs[-1]` and `y32` from `x`. `U(d16)` is taken as `y32 - d32`, which is, up to float rounding, the
upsampled low reconstruction the model subtracted to form `r` (upsampled from whole frames, then cropped to
`T`), and `r = s_bl - U(d16)`. Since `s_bl` has no content above 8 kHz and `U(d16)` essentially none (only
what the upsampler's transition band lets through just above 8 kHz, see `GUARD_HZ`), `r` holds only the low
branch's coding error below 8 kHz: all of the upper band of `y32` is invented by the high branch. The
`levels` returned by `inpainting_metrics` report how much energy each signal has above the cutoff.
`D(s_bl)` equals `D(s32)` up to the transition band of the resampler, so `d16` is (almost) the low branch's
ordinary reconstruction of `s32`.

Both `y32` and the baseline `U(d16)` (and, for reference, `s_bl` itself) are compared with the ORIGINAL `s32`
(`inpainting_metrics`): mel distance, STFT distance and SI-SDR (`metrics.py`), the SDR in the upper band
8-16 kHz (`band_analysis.band_sdr`, 0 dB for an estimate with no upper band, positive only if the invented
band matches the original) and the upper-band energy of the estimate relative to the original's, in dB
(0 dB: as much energy above 8 kHz as `s32`).

For a band-split model with more branches, the same holds with the top branch in the role of `d32`, everything
below it in the role of `U(d16)` and the cutoff at the Nyquist frequency of the branch below the top one.

Example:
    >>> signals = inpaint(model, s32)            # doctest: +SKIP
    >>> scores = inpainting_metrics(signals)     # doctest: +SKIP
    >>> scores['systems']['band_split']['mel_distance']  # [B]  # doctest: +SKIP
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math

import torch

from ..models.bandsplit import BandSplitResult
from .band_analysis import band_filter, band_sdr
from .metrics import METRICS, SDR_EPS, checks_signals, resolve_metrics, trusted
from .sections import Analysis, get, require_band_split, section_rows, table

__all__ = [
    'DEFAULT_INPAINTING_METRICS',
    'FADE_SECONDS',
    'GUARD_HZ',
    'Inpainting',
    'InpaintingSignals',
    'SYSTEMS',
    'band_energy_ratio_db',
    'band_limit',
    'inpaint',
    'inpainting_metrics',
    'level_above_db',
    'run_inpainting',
]

DEFAULT_INPAINTING_METRICS: tuple[str, ...] = ('mel_distance', 'stft_distance', 'si_sdr')
"""Full-band metrics (keys of `metrics.METRICS`) of each system against the original clip."""

SYSTEMS: dict[str, str] = {
    'band_limited_input': "s_bl, the band-limited input itself (nothing above the cutoff)",
    'upsampled_low': "U(d16), plain upsampling of the low-branch output",
    'band_split': "y32 = U(d16) + d32, the band-split output (high band invented by the high branch)",
}
"""The signals compared with the original, by key."""

GUARD_HZ = 500.0
"""Guard band above the cutoff for the stopband levels: julius' upsampling (rolloff 0.945, 24 zeros) attenuates
a 16 kHz signal's content by only about 33 dB at exactly 8 kHz and 55 dB at 8.1 kHz, but by more than 80 dB
from 8.5 kHz on."""

FADE_SECONDS = 0.01
"""Raised-cosine fade in and out applied before measuring stopband levels, so that the circular discontinuity
of the FFT mask at the clip edges does not spread broadband energy over the stopband."""


def band_limit(x: torch.Tensor, sample_rate: int, cutoff_hz: float) -> torch.Tensor:
    """`x` `[B, C, T]` without any content at or above `cutoff_hz` (zero-phase FFT brick wall, `band_filter`)."""
    return band_filter(x, sample_rate, 0.0, cutoff_hz)


def _fade(x: torch.Tensor, sample_rate: int, seconds: float) -> torch.Tensor:
    size = min(int(round(seconds * sample_rate)), x.shape[-1] // 2)
    if size <= 0:
        return x
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(size, dtype=torch.float64, device=x.device) + 0.5) / size)
    window = torch.ones(x.shape[-1], dtype=torch.float64, device=x.device)
    window[:size] = ramp
    window[-size:] = ramp.flip(0)
    return x.double() * window


@checks_signals(signals=1)
def level_above_db(x: torch.Tensor, sample_rate: int, freq_hz: float, fade_seconds: float = 0.0,
                   floor_db: float = -200.0) -> torch.Tensor:
    """Energy of `x` at and above `freq_hz` relative to its total energy, in dB, per clip.

    Definition: `10 log10(|band_filter(x', freq_hz, nyquist)|^2 / |x'|^2)` with norms summed over channels
    and time, where `x' = x` or, with `fade_seconds > 0`, `x` with raised-cosine fades in and out of that
    length (to keep the clip-edge discontinuity of the FFT mask out of the measure). Floored at `floor_db`;
    NaN for a silent clip.

    Args:
        x (torch.Tensor): Signal, `[B, C, T]`.
        sample_rate (int): Sample rate of `x`.
        freq_hz (float): Lower edge of the measured band, below the Nyquist frequency.
        fade_seconds (float): Length of the fades, 0 for none.
        floor_db (float): Lowest value returned for a non-silent clip.
    Returns:
        torch.Tensor: `[B]` levels in dB (float32).
    """
    y = _fade(x, sample_rate, fade_seconds).double()
    total = y.pow(2).sum(dim=(1, 2))
    upper = band_filter(y, sample_rate, freq_hz, sample_rate / 2).pow(2).sum(dim=(1, 2))
    ratio = torch.maximum(upper / total.clamp_min(1e-300), torch.full_like(total, 10 ** (floor_db / 10)))
    return torch.where(total > 0, 10 * ratio.log10(), torch.nan).float()


@checks_signals()
def band_energy_ratio_db(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, band: tuple[float, float],
                         eps: float = SDR_EPS) -> torch.Tensor:
    """Energy of `est` in `band` relative to the energy of `ref` in `band`, in dB, per clip.

    Definition: `10 log10((|est_b|^2 + eps) / (|ref_b|^2 + eps))`, band-limited with `band_filter`, norms summed
    over channels and time. 0 dB: the same energy in the band; very negative: the estimate has none.

    Shape: `[B, C, T]`, `[B, C, T] -> [B]`.
    """
    est_b = band_filter(est, sample_rate, *band).double().pow(2).sum(dim=(1, 2))
    ref_b = band_filter(ref, sample_rate, *band).double().pow(2).sum(dim=(1, 2))
    return (10 * ((est_b + eps) / (ref_b + eps)).log10()).float()


@dataclass
class InpaintingSignals:
    """The signals of one inpainting run, all `[B, C, T]` at `sample_rate` (see the module docstring).

    Attributes:
        reference: `s32`, the original clip.
        band_limited: `s_bl`, the input given to the model.
        lifted_low: `U(d16)`, the upsampled low-branch output (the baseline).
        residual: `r = s_bl - U(d16)`, what the high branch coded.
        high_output: `d32`, the high branch's output.
        output: `y32 = U(d16) + d32`.
        sample_rate: Rate of every signal (the model's).
        cutoff_hz: Cutoff of the band-limited input.
    """
    reference: torch.Tensor
    band_limited: torch.Tensor
    lifted_low: torch.Tensor
    residual: torch.Tensor
    high_output: torch.Tensor
    output: torch.Tensor
    sample_rate: int
    cutoff_hz: float

    def systems(self) -> dict[str, torch.Tensor]:
        """The estimates compared with the original, keyed as in `SYSTEMS`."""
        return {'band_limited_input': self.band_limited, 'upsampled_low': self.lifted_low, 'band_split': self.output}


@torch.no_grad()
def inpaint(model: torch.nn.Module, x: torch.Tensor) -> InpaintingSignals:
    """Run the band-split `model` on the band-limited version of `x` (`[B, C, T]` at the model's rate).

    Returns:
        InpaintingSignals: `s32 = x`, `s_bl`, `U(d16)`, `r`, `d32`, `y32`.
    """
    require_band_split(model, "Inpainting")
    x = model.check_audio(x)
    band_limited = band_limit(x, model.sample_rate, model.crossover_hz)
    result = model(band_limited)
    return InpaintingSignals(reference=x, band_limited=band_limited, lifted_low=result.lifted_low,
                             residual=band_limited - result.lifted_low, high_output=result.branch_outputs[-1],
                             output=result.x, sample_rate=model.sample_rate, cutoff_hz=model.crossover_hz)


def inpainting_metrics(signals: InpaintingSignals,
                       metrics: Sequence[str] = DEFAULT_INPAINTING_METRICS) -> dict[str, dict[str, dict]]:
    """Scores of each system against the original, and how much energy each signal has above the cutoff.

    Returns a nested dict of `[B]` float32 tensors::

        {'systems': {system: {metric: [B], ...,             # for each of `metrics`, against s32
                              'high_band_sdr': [B],         # band_sdr(system, s32, (cutoff, nyquist))
                              'high_band_energy_db': [B]}}, # band_energy_ratio_db(system, s32, (cutoff, nyquist))
         'levels': {signal: {'above_cutoff_db': [B],        # level_above_db(signal, cutoff)
                             'stopband_db': [B]}}}          # level_above_db(signal, cutoff + GUARD_HZ, FADE_SECONDS)

    with systems `band_limited_input`, `upsampled_low`, `band_split` and signals `band_limited_input`,
    `upsampled_low`, `residual`, `high_output`.
    """
    metrics = resolve_metrics(metrics)
    sr, ref = signals.sample_rate, signals.reference
    high_band = (signals.cutoff_hz, sr / 2)
    systems = {}
    for key, est in signals.systems().items():
        scores = {name: METRICS[name](est, ref, sr) for name in metrics}
        scores['high_band_sdr'] = band_sdr(est, ref, sr, high_band)
        scores['high_band_energy_db'] = band_energy_ratio_db(est, ref, sr, high_band)
        systems[key] = scores
    guard = min(signals.cutoff_hz + GUARD_HZ, (signals.cutoff_hz + sr / 2) / 2)
    levels = {}
    for key, signal in (('band_limited_input', signals.band_limited), ('upsampled_low', signals.lifted_low),
                        ('residual', signals.residual), ('high_output', signals.high_output)):
        levels[key] = {'above_cutoff_db': level_above_db(signal, sr, signals.cutoff_hz),
                       'stopband_db': level_above_db(signal, sr, guard, fade_seconds=FADE_SECONDS)}
    return {'systems': systems, 'levels': levels}


def run_inpainting(model: torch.nn.Module, x: torch.Tensor,
                   metrics: Sequence[str] = DEFAULT_INPAINTING_METRICS) -> dict[str, dict[str, dict]]:
    """`inpainting_metrics(inpaint(model, x), metrics)`: the whole experiment on clips `x` `[B, C, T]`."""
    return inpainting_metrics(inpaint(model, x), metrics)


class Inpainting(Analysis):
    """The report's toy inpainting section: `inpainting_metrics(inpaint(model, x))` on every clip."""
    key = 'inpainting'
    title = "Inpainting"
    heading = "Toy inpainting (bandwidth extension)"

    def measure(self, x: torch.Tensor, result: BandSplitResult) -> dict:
        with trusted():
            return inpainting_metrics(inpaint(self.model, x))

    def describe(self) -> dict:
        return {'cutoff_hz': self.model.crossover_hz, 'systems': dict(SYSTEMS)}

    @staticmethod
    def body(sections: Sequence[Mapping], models: Mapping[str, Mapping], signals: Mapping[str, str],
             header: Sequence[str]) -> list[str]:
        sig = signals
        lines = [f"Input: the clip low-passed at the crossover (s_bl, FFT brick wall); the top branch codes "
                  f"r = s_bl - {sig['low']} and must invent the upper band. Systems against the ORIGINAL full-band "
                  f"clip: `band_split` = {sig['output']} = {sig['low']} + {sig['high']}, `upsampled_low` = "
                  f"{sig['low']} (plain upsampling), `band_limited_input` = s_bl itself. High band = crossover to "
                  f"Nyquist; high-band energy in dB relative to the original's.", ""]
        systems = [system for section in sections for system in (get(section, 'aggregate', 'systems') or {}).values()]
        keys = list(dict.fromkeys(key for system in systems for key in system))
        labels = {'high_band_sdr': "High-band SDR (dB) ↑", 'high_band_energy_db': "High-band energy (dB, 0 = original)"}
        specs = [(f"{system}: {labels.get(key) or f'{METRICS[key].label} {METRICS[key].arrow}'}",
                  ('systems', system, key)) for system in SYSTEMS for key in keys]
        lines += [table(['system: measure', *header], section_rows(models, 'inpainting', specs)), ""]
        lines += ["Energy above the cutoff relative to each signal's own energy (dB): exact FFT measure, and the "
                  "resampler stopband (from cutoff + 500 Hz, 10 ms fades; julius' upsampling transition band "
                  "reaches just past the cutoff).", ""]
        specs = [(f"{signal}: {name}", ('levels', signal, key))
                 for signal in ('band_limited_input', 'upsampled_low', 'residual', 'high_output')
                 for name, key in (('above cutoff', 'above_cutoff_db'), ('stopband', 'stopband_db'))]
        return lines + [table(['signal: level (dB)', *header], section_rows(models, 'inpainting', specs)), ""]
