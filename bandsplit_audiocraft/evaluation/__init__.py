"""Evaluation of codecs: per-clip objective metrics, bootstrap confidence intervals and band analysis.

- `metrics`: the metric registry `METRICS` (mel and STFT distances in DAC's convention, waveform L1, SI-SDR,
  SDR) and `compute_metrics`; `perceptual`: ViSQOL, PESQ and STOI, registered there too.
- `statistics`: bootstrap confidence intervals and per-clip value trees.
- `band_analysis`, `inpainting`, `token_editing`: the analyses of a band-split codec, each with its section
  of the report (`sections.Analysis`), listed in `scoring.ANALYSES`.
- `scoring`: one model on evaluation clips; `report`: `make_report` and its command line
  (`python -m bandsplit_audiocraft.evaluation.report`); `markdown`: `report.md`; `figures`: spectrograms;
  `dataset`: evaluation clips from a manifest or a folder.
"""

from . import perceptual  # noqa: F401  (registers ViSQOL, PESQ and STOI in metrics.METRICS)
