"""Tests of the spectrogram figures: three panels, shared axes and colour scale, the 8 kHz line, atomic PNGs."""

from matplotlib.image import imread
import numpy as np
import pytest
import torch

from bandsplit_audiocraft.data.corpus import synth_clip
from bandsplit_audiocraft.evaluation import figures
from bandsplit_audiocraft.evaluation.band_analysis import band_filter

SR = 32000


def test_band_split_figure_has_three_spectrogram_panels(tmp_path):
    x = torch.from_numpy(synth_clip('mixture', 0.5, SR, np.random.default_rng(0)))[None]
    low = band_filter(x, SR, 0, 8000)
    path = tmp_path / 'sub' / 'spectrograms.png'
    fig = figures.plot_band_split(x, low, x - low, SR, path=path, title='tiny: clip 0')
    panels = figures.spectrogram_axes(fig)
    assert len(panels) == 3 and len(fig.axes) == 4  # three panels and the colour bar
    assert [ax.get_title() for ax in panels] == ["Input s32", "Upsampled low-branch output U(d16)",
                                                 "High-branch output d32"]
    for ax in panels:
        assert ax.get_ylim() == (0.0, 16.0)
        assert any(np.allclose(line.get_ydata(), 8.0) for line in ax.get_lines())  # the 8 kHz line
    assert len({ax.images[0].get_clim() for ax in panels}) == 1  # one colour scale
    image = imread(path)
    assert image.shape[:2] == (400, 1620)  # dpi 100, 3 panels of 5 x 4 inches plus the colour bar
    assert [p.name for p in path.parent.iterdir()] == ['spectrograms.png']  # no temporary file left


def test_spectrogram_panels_of_any_count_and_errors(tmp_path):
    x = torch.randn(1, 8000)
    fig = figures.plot_spectrograms([("a", x), ("b", x[0])], SR, crossover_hz=None)
    assert len(figures.spectrogram_axes(fig)) == 2
    levels, freqs, times = figures.spectrogram_db(x, SR, n_fft=512)
    assert levels.shape == (257, len(times)) and freqs[-1] == SR / 2
    with pytest.raises(ValueError, match="same shape"):
        figures.plot_band_split(x, x, x[:, :4000], SR)
    with pytest.raises(ValueError, match="too short"):
        figures.plot_spectrograms([("a", x[:, :100])], SR)
    with pytest.raises(ValueError, match="At least one"):
        figures.plot_spectrograms([], SR)
    with pytest.raises(ValueError, match=r"\.png"):
        figures.save_figure(fig, tmp_path / 'figure.jpg')
