"""Evaluation of codecs: per-clip objective metrics, bootstrap confidence intervals and band analysis.

- `metrics`: mel and STFT distances (DAC convention), waveform L1, SI-SDR, SDR, ViSQOL, PESQ, STOI,
  the `METRICS` registry, `compute_metrics` and `bootstrap_ci`.
- `band_analysis`: band-limited SDR and energy shares of the branches of a band-split codec.
- `inpainting`: the toy bandwidth-extension experiment; `token_editing`: decoding mixed band tokens.
- `figures`: spectrograms of the input and of each branch's contribution.
- `report`: `make_report` and `python -m bandsplit_audiocraft.evaluation.report`, one command for all of it.
"""
from .band_analysis import (
    DEFAULT_BANDS,
    analyse_bands,
    band_energy_fraction,
    band_energy_share,
    band_filter,
    band_sdr,
    crossover_sdr,
    mean_over_clips,
)
from .metrics import (
    DEFAULT_METRICS,
    HIGHER_IS_BETTER,
    METRICS,
    bootstrap_ci,
    compute_metrics,
    mel_distance,
    pesq_score,
    sdr,
    si_sdr,
    stft_distance,
    stoi_score,
    visqol,
    waveform_l1,
)

__all__ = [
    'DEFAULT_BANDS',
    'DEFAULT_METRICS',
    'HIGHER_IS_BETTER',
    'METRICS',
    'analyse_bands',
    'band_energy_fraction',
    'band_energy_share',
    'band_filter',
    'band_sdr',
    'bootstrap_ci',
    'compute_metrics',
    'crossover_sdr',
    'mean_over_clips',
    'mel_distance',
    'pesq_score',
    'sdr',
    'si_sdr',
    'stft_distance',
    'stoi_score',
    'visqol',
    'waveform_l1',
]
