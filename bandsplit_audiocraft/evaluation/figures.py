"""Spectrogram figures of a band-split codec: input `s32`, upsampled low-branch output `U(d16)`, high branch `d32`.

`plot_band_split` draws the paper's figure: three spectrogram panels side by side with a shared frequency axis
in kHz (0 to the Nyquist frequency), a shared colour scale in dB (one colour bar), the crossover frequency
(8 kHz) marked by a dashed line on each panel, and a title per panel. `plot_spectrograms` draws any number of
panels the same way (e.g. input and output of a single-band codec). Figures are built with matplotlib's
object API on the Agg canvas (no display, no global pyplot state) and written atomically by `save_figure`.

Spectrograms: magnitude STFT (periodic Hann window of `n_fft` samples, hop `n_fft / 4`, centered frames)
of each channel, power-averaged over channels, in dB (`20 log10 max(|X|, 1e-10)`); the colour scale spans
`dynamic_range_db` below the loudest bin of all panels.

Example:
    >>> fig = plot_band_split(s32, lifted_low, high, 32000, path='spectrograms.png')  # doctest: +SKIP
    >>> len(spectrogram_axes(fig))  # doctest: +SKIP
    3
"""

from collections.abc import Sequence
import io
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
import torch

from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes

__all__ = [
    'PANEL_LABEL',
    'plot_band_split',
    'plot_spectrograms',
    'save_figure',
    'spectrogram_axes',
    'spectrogram_db',
]

PANEL_LABEL = 'spectrogram'
"""Label (`Axes.get_label()`) of every spectrogram panel; the colour bar's axes are labelled 'colorbar'."""


def _as_channels(wav: torch.Tensor | np.ndarray) -> torch.Tensor:
    """`[T]`, `[C, T]` or `[1, C, T]` -> `[C, T]` float64."""
    x = torch.as_tensor(wav).detach().cpu().double()
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2 or x.shape[-1] == 0:
        raise ValueError(f"A spectrogram panel needs a signal of shape [T], [C, T] or [1, C, T], got "
                         f"{tuple(x.shape)}.")
    if not torch.isfinite(x).all():
        raise ValueError("A spectrogram panel got NaN or infinite samples.")
    return x


def spectrogram_db(wav: torch.Tensor | np.ndarray, sample_rate: int,
                   n_fft: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Magnitude spectrogram of `wav` (`[T]`, `[C, T]` or `[1, C, T]`) in dB, power-averaged over channels.

    Returns:
        tuple: `(levels [n_fft // 2 + 1, frames], frequencies in Hz, frame times in s)`.
    """
    x = _as_channels(wav)
    if x.shape[-1] <= n_fft // 2:
        raise ValueError(f"The signal ({x.shape[-1]} samples) is too short for an STFT of {n_fft} samples.")
    hop = n_fft // 4
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                      center=True, return_complex=True).abs().pow(2).mean(dim=0).sqrt()
    levels = 20 * spec.clamp_min(1e-10).log10()
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    times = np.arange(levels.shape[-1]) * hop / sample_rate
    return levels.numpy(), freqs, times


def plot_spectrograms(panels: Sequence[tuple[str, torch.Tensor | np.ndarray]], sample_rate: int, *,
                      crossover_hz: float | None = 8000.0, title: str | None = None,
                      path: PathLike | None = None, dynamic_range_db: float = 80.0, n_fft: int = 1024,
                      panel_size: tuple[float, float] = (5.0, 4.0), dpi: int = 100) -> Figure:
    """Spectrogram panels side by side, sharing the frequency axis (kHz) and the colour scale (dB).

    Args:
        panels (sequence): `(title, signal)` pairs; signals `[T]`, `[C, T]` or `[1, C, T]` at `sample_rate`.
        sample_rate (int): Sample rate of every signal.
        crossover_hz (float, optional): Frequency marked by a dashed line on every panel (None: no line).
        title (str, optional): Title of the whole figure.
        path (str or Path, optional): Save the figure there as PNG (atomically).
        dynamic_range_db (float): Range of the colour scale below the loudest bin of all panels.
        n_fft (int): STFT window length.
        panel_size (tuple): Width and height of one panel in inches.
        dpi (int): Resolution; the PNG is `dpi * (panel_width * n + 1.2)` by `dpi * panel_height` pixels.
    Returns:
        Figure: The figure; its spectrogram axes are `spectrogram_axes(fig)`, in panel order.
    """
    if not panels:
        raise ValueError("At least one spectrogram panel is needed.")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"The sample rate must be a positive integer, got {sample_rate!r}.")
    if not dynamic_range_db > 0:
        raise ValueError(f"The dynamic range must be positive, got {dynamic_range_db}.")
    nyquist_khz = sample_rate / 2000
    if crossover_hz is not None and not 0 < crossover_hz < sample_rate / 2:
        raise ValueError(f"The crossover frequency must lie between 0 and {sample_rate / 2:g} Hz, got {crossover_hz}.")
    spectra = [spectrogram_db(signal, sample_rate, n_fft) for _, signal in panels]
    vmax = float(np.ceil(max(levels.max() for levels, _, _ in spectra)))
    vmin = vmax - dynamic_range_db

    width, height = panel_size
    fig = Figure(figsize=(width * len(panels) + 1.2, height), dpi=dpi, layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True, squeeze=False)[0]
    image = None
    for ax, (panel_title, signal), (levels, _, _) in zip(axes, panels, spectra):
        duration = _as_channels(signal).shape[-1] / sample_rate
        image = ax.imshow(levels, origin='lower', aspect='auto', interpolation='nearest', cmap='magma',
                          vmin=vmin, vmax=vmax, extent=(0.0, float(duration), 0.0, nyquist_khz))
        if crossover_hz is not None:
            ax.axhline(crossover_hz / 1000, color='cyan', linestyle='--', linewidth=1.0)
            ax.text(0.99, crossover_hz / 1000, f"{crossover_hz / 1000:g} kHz", color='cyan', fontsize=8,
                    ha='right', va='bottom', transform=ax.get_yaxis_transform())
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("Time (s)")
        ax.set_ylim(0.0, nyquist_khz)
        ax.set_label(PANEL_LABEL)
    axes[0].set_ylabel("Frequency (kHz)")
    colorbar = fig.colorbar(image, ax=list(axes), pad=0.01)
    colorbar.set_label("Level (dB)")
    colorbar.ax.set_label('colorbar')
    if title:
        fig.suptitle(title, fontsize=11)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_band_split(s32: torch.Tensor, lifted_low: torch.Tensor, high: torch.Tensor, sample_rate: int, *,
                    path: PathLike | None = None, crossover_hz: float = 8000.0, title: str | None = None,
                    low_rate_khz: float | None = None, **kwargs) -> Figure:
    """The paper's figure: spectrograms of the input `s32`, of `U(d16)` and of `d32`, all at `sample_rate`.

    Args:
        s32 (torch.Tensor): Input clip, `[T]`, `[C, T]` or `[1, C, T]`.
        lifted_low (torch.Tensor): Upsampled low-branch output `U(d16)`, same shape.
        high (torch.Tensor): High-branch output `d32`, same shape.
        sample_rate (int): Rate of all three (32 kHz for the paper's codec).
        path (str or Path, optional): Save the PNG there (atomically).
        crossover_hz (float): Frequency marked on every panel (the low branch's Nyquist frequency).
        title (str, optional): Figure title.
        low_rate_khz (float, optional): Rate of the low branch in kHz for the panel titles (default
            `2 * crossover_hz`).
        **kwargs: Passed to `plot_spectrograms`.
    Returns:
        Figure: With three spectrogram panels and a colour bar.
    """
    shapes = {tuple(_as_channels(x).shape) for x in (s32, lifted_low, high)}
    if len(shapes) != 1:
        raise ValueError(f"The three signals must have the same shape, got {sorted(shapes)}.")
    low = f"{low_rate_khz if low_rate_khz is not None else 2 * crossover_hz / 1000:g}"
    top = f"{sample_rate / 1000:g}"
    panels = [(f"Input s{top}", s32), (f"Upsampled low-branch output U(d{low})", lifted_low),
              (f"High-branch output d{top}", high)]
    return plot_spectrograms(panels, sample_rate, crossover_hz=crossover_hz, title=title, path=path, **kwargs)


def spectrogram_axes(fig: Figure) -> list[Axes]:
    """The spectrogram panels of a figure made by `plot_spectrograms`, in order (colour bar excluded)."""
    return [ax for ax in fig.axes if ax.get_label() == PANEL_LABEL]


def save_figure(fig: Figure, path: PathLike, dpi: int | None = None) -> Path:
    """Render `fig` as PNG and write it to `path` atomically (temporary file renamed into place)."""
    path = Path(path)
    if path.suffix.lower() != '.png':
        raise ValueError(f"Figures are saved as PNG: the path must end with .png, got {str(path)!r}.")
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=dpi if dpi is not None else fig.dpi)
    atomic_write_bytes(path, buffer.getvalue(), overwrite=True)
    return path
