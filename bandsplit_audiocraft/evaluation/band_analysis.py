"""Band analysis of a band-split codec: how much of each frequency band each branch reconstructs.

The band-split codec outputs `y32 = U(d16) + d32`, the lifted 16 kHz branch plus the 32 kHz branch that
codes the residual. Its split is soft: `U(d16)` holds (almost) nothing above 8 kHz, while `d32` mostly
carries the 8-16 kHz band but may also correct the 0-8 kHz band. This module measures that, per clip:

- `band_filter`: a signal restricted to a frequency band (exact FFT brick-wall mask);
- `band_sdr`: SDR of the band-limited estimate against the band-limited reference;
- `band_energy_share`: which part of the output's energy, per band, a contribution accounts for;
- `band_energy_fraction`: how a signal's own energy splits between bands;
- `crossover_sdr`: SDR in a narrow band around the 8 kHz crossover, where a badly matched split would
  leave artefacts;
- `analyse_bands`: all of the above for every contribution and the output, as nested dicts;
- `BandAnalysis`: the report's section, on a band-split model's `U(d16)`, `d32` and output.

Bands are `(low_hz, high_hz)` pairs, half-open `[low_hz, high_hz)`, except that a band reaching the
Nyquist frequency includes it. Signals are `[B, C, T]`; per-clip results are `[B]` float32 tensors.

Example:
    >>> import torch
    >>> ref = torch.randn(2, 1, 32000)
    >>> low, high = band_filter(ref, 32000, 0, 8000), band_filter(ref, 32000, 8000, 16000)
    >>> torch.allclose(low + high, ref, atol=1e-5)
    True
    >>> result = analyse_bands(ref, {'low': low, 'high': high}, low + high, 32000)
    >>> sorted(result), sorted(result['high'])
    (['high', 'low', 'output'], ['crossover_sdr', 'energy_fraction', 'energy_share', 'sdr'])
"""

from collections.abc import Mapping, Sequence

import torch

from ..models.bandsplit import BandSplitResult
from .metrics import SDR_EPS, check_signals, checks_signals, inputs_checked, sdr, trusted
from .sections import Analysis, band_text, khz, section_rows, table

__all__ = [
    'BandAnalysis',
    'DEFAULT_BANDS',
    'analyse_bands',
    'band_energy',
    'band_energy_fraction',
    'band_energy_share',
    'band_filter',
    'band_label',
    'band_sdr',
    'crossover_sdr',
]

Band = tuple[float, float]

DEFAULT_BANDS: tuple[Band, ...] = ((0, 8000), (8000, 16000))
"""The paper's two bands at 32 kHz: the one of the 16 kHz branch and the one only the 32 kHz branch sees."""

OUTPUT_KEY = 'output'
CROSSOVER_WIDTH_HZ = 1000.0
"""Width of the window around the crossover frequency in which the report measures the crossover SDR."""


def band_label(band: Band) -> str:
    """Key of a band in the result dicts, e.g. `(0, 8000) -> '0-8000'` (Hz, formatted with `:g`)."""
    low, high = band
    return f"{low:g}-{high:g}"


def _check_band(band: Band, sample_rate: int) -> tuple[float, float]:
    if len(band) != 2:
        raise ValueError(f"A band must be a (low_hz, high_hz) pair, got {band!r}.")
    low, high = float(band[0]), float(band[1])
    nyquist = sample_rate / 2
    if not (0 <= low < high <= nyquist):
        raise ValueError(
            f"A band must satisfy 0 <= low < high <= sample_rate / 2 = {nyquist:g} Hz, got ({low:g}, {high:g}).")
    return low, high


def band_filter(x: torch.Tensor, sample_rate: int, low_hz: float, high_hz: float) -> torch.Tensor:
    """Keep only the frequencies of `x` in `[low_hz, high_hz)`, with a zero-phase FFT brick-wall mask.

    Method: `rfft` over the whole signal, zero every bin whose frequency `k * sample_rate / T` lies outside
    `[low_hz, high_hz)` (a band whose `high_hz` is the Nyquist frequency keeps the Nyquist bin), `irfft`.
    Computed in float64 and returned in the dtype of `x`.

    Why this method: band analysis needs bands that partition the signal exactly. The FFT mask is an
    orthogonal projection, so for bands that tile `[0, sample_rate / 2]`, the band-limited signals sum to
    `x` and are mutually orthogonal: their energies add up to the energy of `x` (Parseval), band energy
    shares are well defined, and the squared error of an estimate splits exactly across bands. It has no
    transition band and no phase shift, unlike windowed-sinc filters (`julius.lowpass_filter`), whose
    transition width and stopband floor (some tens of dB) would blur the 8 kHz crossover being measured.
    A stationary tone is kept or removed to numerical precision (far beyond 100 dB) when it has a whole
    number of periods in the clip, and still by more than 100 dB when the clip fades in and out over a few
    milliseconds. The price of the circular FFT
    is that an abrupt clip boundary acts as a discontinuity whose broadband energy spreads over all bands
    (about -50 dB of a one-second pure tone that starts and stops abruptly); for real audio this is far
    below coding errors, and it affects estimate and reference alike.

    Args:
        x (torch.Tensor): Signal of shape `[*, T]`, `T > 0`.
        sample_rate (int): Sample rate of `x`.
        low_hz (float): Lower edge of the band (kept), `>= 0`.
        high_hz (float): Upper edge of the band (removed, unless it is the Nyquist frequency),
            `low_hz < high_hz <= sample_rate / 2`.
    Returns:
        torch.Tensor: The band-limited signal, same shape and dtype as `x`.
    """
    if not inputs_checked():
        if not isinstance(x, torch.Tensor) or x.dim() == 0:
            raise ValueError("band_filter expects a torch.Tensor of shape [*, T].")
        view = x.unsqueeze(0).flatten(1, -2) if x.dim() > 1 else x[None, None]
        check_signals(view, view, sample_rate)
    low, high = _check_band((low_hz, high_hz), sample_rate)
    length = x.shape[-1]
    freqs = torch.fft.rfftfreq(length, d=1 / sample_rate, dtype=torch.float64, device=x.device)
    keep = freqs >= low
    if high < sample_rate / 2:
        keep &= freqs < high
    spectrum = torch.fft.rfft(x.double(), dim=-1) * keep
    return torch.fft.irfft(spectrum, n=length, dim=-1).to(x.dtype)


@checks_signals(signals=1)
def band_energy(x: torch.Tensor, sample_rate: int, band: Band) -> torch.Tensor:
    """Energy of `x` in `band`: `sum_{c, t} band_filter(x)^2`, shape `[B, C, T] -> [B]` (float64)."""
    return band_filter(x, sample_rate, *band).double().pow(2).sum(dim=(1, 2))


@checks_signals()
def band_sdr(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, band: Band,
             eps: float = SDR_EPS) -> torch.Tensor:
    """SDR in dB of the band-limited estimate against the band-limited reference.

    Definition: `sdr(band_filter(est, band), band_filter(ref, band))`, i.e. per channel
    `10 log10( (|ref_b|^2 + eps) / (|ref_b - est_b|^2 + eps) )`, averaged over channels (see `metrics.sdr`).
    Removing a band's content gives 0 dB in that band; scaling it by `g` gives `-20 log10|1 - g|`.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        band (tuple): `(low_hz, high_hz)`.
        eps (float): Regulariser of the energies.
    Returns:
        torch.Tensor: `[B]` values in dB.
    """
    low, high = _check_band(band, sample_rate)
    return sdr(band_filter(est, sample_rate, low, high), band_filter(ref, sample_rate, low, high), sample_rate,
               eps=eps)


@checks_signals()
def band_energy_share(contribution: torch.Tensor, total: torch.Tensor, sample_rate: int,
                      bands: Sequence[Band] = DEFAULT_BANDS) -> dict[str, torch.Tensor]:
    """Share of the total's energy that `contribution` accounts for, in each band.

    Definition, per band `b`, with `c_b = band_filter(contribution)` and `y_b = band_filter(total)`::

        share_b = <c_b, y_b> / <y_b, y_b>        # inner products summed over channels and time

    i.e. the coefficient of the projection of `c_b` on `y_b`. When contributions sum to the total, their
    shares add up to exactly 1 in every band (linearity), whether or not they are orthogonal. When they are
    orthogonal within the band it equals the energy ratio `|c_b|^2 / |y_b|^2`. A share can be negative
    (the contribution cancels part of another one) or exceed 1. It is NaN where the total has no energy
    in the band.

    Args:
        contribution (torch.Tensor): One additive part of `total`, `[B, C, T]`.
        total (torch.Tensor): The sum of all contributions, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals.
        bands (sequence of tuple): `(low_hz, high_hz)` bands.
    Returns:
        dict: band label (`band_label`) -> `[B]` shares.
    """
    shares = {}
    for band in bands:
        low, high = _check_band(band, sample_rate)
        c_b = band_filter(contribution, sample_rate, low, high).double()
        y_b = band_filter(total, sample_rate, low, high).double()
        energy = y_b.pow(2).sum(dim=(1, 2))
        share = (c_b * y_b).sum(dim=(1, 2)) / energy
        shares[band_label(band)] = torch.where(energy > 0, share, torch.nan).float()
    return shares


@checks_signals(signals=1)
def band_energy_fraction(x: torch.Tensor, sample_rate: int,
                         bands: Sequence[Band] = DEFAULT_BANDS) -> dict[str, torch.Tensor]:
    """Fraction of the energy of `x` that lies in each band: `|x_b|^2 / |x|^2` (sums over channels and time).

    For bands that tile `[0, sample_rate / 2]`, the fractions add up to 1 (Parseval). NaN for a silent clip.

    Args:
        x (torch.Tensor): Signal, `[B, C, T]`.
        sample_rate (int): Sample rate of `x`.
        bands (sequence of tuple): `(low_hz, high_hz)` bands.
    Returns:
        dict: band label (`band_label`) -> `[B]` fractions.
    """
    energy = x.detach().double().pow(2).sum(dim=(1, 2))
    fractions = {}
    for band in bands:
        low, high = _check_band(band, sample_rate)
        fraction = band_energy(x, sample_rate, (low, high)) / energy
        fractions[band_label(band)] = torch.where(energy > 0, fraction, torch.nan).float()
    return fractions


@checks_signals()
def crossover_sdr(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, center: float = 8000.0,
                  width: float = 1000.0, eps: float = SDR_EPS) -> torch.Tensor:
    """SDR in dB in the narrow band `[center - width / 2, center + width / 2)` around the crossover.

    Definition: `band_sdr(est, ref, sample_rate, (center - width / 2, center + width / 2))`. The default,
    7.5-8.5 kHz, covers the transition band of the windowed-sinc resampling between the 16 kHz and 32 kHz
    branches (julius cuts at 0.99 of the 8 kHz Nyquist frequency), where a split that the branches do not
    complete would show as a dip relative to the neighbouring bands.

    Args:
        est (torch.Tensor): Estimate, `[B, C, T]`.
        ref (torch.Tensor): Reference, `[B, C, T]`.
        sample_rate (int): Sample rate of both signals; the window must fit below `sample_rate / 2`.
        center (float): Crossover frequency in Hz.
        width (float): Width of the window in Hz, `> 0`.
        eps (float): Regulariser of the energies.
    Returns:
        torch.Tensor: `[B]` values in dB.
    """
    if not width > 0:
        raise ValueError(f"The crossover window width must be positive, got {width}.")
    return band_sdr(est, ref, sample_rate, (center - width / 2, center + width / 2), eps=eps)


def analyse_bands(reference: torch.Tensor, contributions: Mapping[str, torch.Tensor], output: torch.Tensor,
                  sample_rate: int, bands: Sequence[Band] = DEFAULT_BANDS,
                  targets: Mapping[str, torch.Tensor] | None = None, crossover_hz: float = 8000.0,
                  crossover_width_hz: float = 1000.0) -> dict[str, dict]:
    """Band analysis of a band-split reconstruction: per-band SDR and energy of each part and of the output.

    For the paper's codec: `reference = s32`, `contributions = {'low': U(d16), 'high': d32}`,
    `output = y32 = U(d16) + d32`, all at 32 kHz. The paper's "SDR of the 32 kHz branch per band" compares
    `d32` with what it is trained to reconstruct, the residual `s32 - U(d16)`: pass it as
    `targets={'high': s32 - U(d16)}`. Without a target, a contribution is compared with `reference`.

    Returns a plain nested dict with one entry per contribution name and one for `'output'`::

        {name: {'sdr':             {band_label: [B]},  # band_sdr(signal, target or reference)
                'energy_share':    {band_label: [B]},  # band_energy_share(signal, output)
                'energy_fraction': {band_label: [B]},  # band_energy_fraction(signal)
                'crossover_sdr':   [B]},               # crossover_sdr(signal, target or reference)
         ...,
         'output': {...}}                               # the output against the reference (share = 1)

    where `[B]` are per-clip float32 tensors (reduce them with `mean_over_clips` or `metrics.bootstrap_ci`)
    and band labels come from `band_label`, e.g. `'0-8000'`. Energy shares of contributions that sum to
    the output add up to 1 in every band.

    Args:
        reference (torch.Tensor): Reference signal, `[B, C, T]`.
        contributions (mapping): name -> additive part of the output, `[B, C, T]`, at `sample_rate`
            (upsample lower-rate branch outputs first). The name 'output' is reserved.
        output (torch.Tensor): The full reconstruction, `[B, C, T]`.
        sample_rate (int): Sample rate of all signals.
        bands (sequence of tuple): `(low_hz, high_hz)` bands; default 0-8 kHz and 8-16 kHz.
        targets (mapping, optional): name -> signal a contribution is compared with, `[B, C, T]`.
        crossover_hz (float): Center of the crossover window.
        crossover_width_hz (float): Width of the crossover window.
    Returns:
        dict: as above.
    """
    if not bands:
        raise ValueError("analyse_bands needs at least one band.")
    for band in bands:
        _check_band(band, sample_rate)
    if OUTPUT_KEY in contributions:
        raise ValueError(f"The contribution name {OUTPUT_KEY!r} is reserved for the output.")
    targets = dict(targets or {})
    unknown = sorted(set(targets) - set(contributions))
    if unknown:
        raise ValueError(f"Targets {unknown} do not name any contribution (contributions: {sorted(contributions)}).")
    if not inputs_checked():
        check_signals(output, reference, sample_rate)
        for name, signal in [*contributions.items(), *targets.items()]:
            try:
                check_signals(signal, output, sample_rate)
            except ValueError as error:
                raise ValueError(f"Contribution {name!r}: {error}") from error

    def analyse(signal: torch.Tensor, target: torch.Tensor) -> dict:
        return {
            'sdr': {band_label(band): band_sdr(signal, target, sample_rate, band) for band in bands},
            'energy_share': band_energy_share(signal, output, sample_rate, bands),
            'energy_fraction': band_energy_fraction(signal, sample_rate, bands),
            'crossover_sdr': crossover_sdr(signal, target, sample_rate, crossover_hz, crossover_width_hz),
        }

    with trusted():
        result = {name: analyse(signal, targets.get(name, reference)) for name, signal in contributions.items()}
        result[OUTPUT_KEY] = analyse(output, reference)
    return result


class BandAnalysis(Analysis):
    """The report's band analysis: `U(d16)`, `d32` (against its residual target and against `s32`) and the
    output `y32`, in the bands from 0 to each branch's Nyquist frequency (0-8 and 8-16 kHz)."""
    key = 'band_analysis'
    title = heading = "Band analysis"

    def __init__(self, model: torch.nn.Module):
        super().__init__(model)
        edges = [0.0] + [rate / 2 for rate in model.branch_rates]
        self.bands = list(zip(edges[:-1], edges[1:]))

    def measure(self, x: torch.Tensor, result: BandSplitResult) -> dict:
        sr, crossover = self.model.sample_rate, self.model.crossover_hz
        high, low = result.branch_outputs[-1], result.lifted_low
        analysis = analyse_bands(x, {'low': low, 'high': high}, result.x, sr, bands=self.bands,
                                 targets={'high': x - low}, crossover_hz=crossover,
                                 crossover_width_hz=CROSSOVER_WIDTH_HZ)
        with trusted():
            analysis['high_vs_input'] = {
                'sdr': {band_label(band): band_sdr(high, x, sr, band) for band in self.bands},
                'crossover_sdr': crossover_sdr(high, x, sr, center=crossover, width=CROSSOVER_WIDTH_HZ)}
        return analysis

    def describe(self) -> dict:
        return {'bands': [band_label(band) for band in self.bands], 'crossover_hz': self.model.crossover_hz,
                'crossover_width_hz': CROSSOVER_WIDTH_HZ}

    @staticmethod
    def body(sections: Sequence[Mapping], models: Mapping[str, Mapping], signals: Mapping[str, str],
             header: Sequence[str]) -> list[str]:
        sig = signals
        bands = list(dict.fromkeys(band for section in sections for band in section.get('bands', [])))
        lines = [f"{sig['low']}: upsampled output of the branches below the top one; {sig['high']}: top-branch "
                  f"output (compared with its residual target {sig['input']} - {sig['low']}, and with "
                  f"{sig['input']}); {sig['output']} = {sig['low']} + {sig['high']} against {sig['input']}. SDR in "
                  f"dB ↑; energy share of {sig['output']}'s energy per band; energy fraction of the signal's own "
                  f"energy per band.", ""]
        crossovers = {section['crossover_hz'] for section in sections if section.get('applicable')}
        half = CROSSOVER_WIDTH_HZ / 2
        window = f" {khz(min(crossovers) - half)}-{khz(min(crossovers) + half)} kHz" if len(crossovers) == 1 else ""
        entries = [('low', f"{sig['low']} vs {sig['input']}"),
                   ('high', f"{sig['high']} vs residual {sig['input']} - {sig['low']}"),
                   ('high_vs_input', f"{sig['high']} vs {sig['input']}"),
                   ('output', f"{sig['output']} vs {sig['input']}")]
        specs: list[tuple[str, Sequence[str]]] = []
        for key, text in entries:
            specs += [(f"SDR {band_text(band)}: {text}", (key, 'sdr', band)) for band in bands]
            specs.append((f"Crossover SDR{window}: {text}", (key, 'crossover_sdr')))
        for key in ('low', 'high'):
            specs += [(f"Energy share {band_text(band)}: {sig[key]}", (key, 'energy_share', band)) for band in bands]
        for key in ('low', 'high', 'output'):
            specs += [(f"Energy fraction {band_text(band)}: {sig[key]}", (key, 'energy_fraction', band))
                      for band in bands]
        return lines + [table(['measure', *header], section_rows(models, 'band_analysis', specs)), ""]
