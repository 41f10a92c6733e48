"""`report.md` from the content of `report.json`: models, metrics per operating point, every analysis's
section (`Analysis.markdown`), spectrograms and definitions."""

from collections.abc import Mapping

from .metrics import METRICS
from .scoring import ANALYSES
from .sections import cell, get, khz, table

GENERIC_SIGNALS = {'low': 'U(lower)', 'high': 'd_top', 'output': 'y', 'input': 's'}


def _shared_signals(models: Mapping) -> dict[str, str]:
    """Signal names shared by every band-split model (rate-specific when their rates agree, else generic)."""
    names = [entry['signals'] for entry in models.values() if entry.get('signals')]
    return names[0] if names and all(n == names[0] for n in names) else GENERIC_SIGNALS


def _header(report: Mapping) -> list[str]:
    data, ci = report['data'], report['confidence_interval']
    source = f"manifest `{data['manifest']}`" if data['manifest'] else "folder of audio files"
    return ["# Codec evaluation report", "",
            f"- Date: {report['date']}",
            f"- Command: `{report['command']}`",
            f"- Device: {report['device']}; torch {report['versions']['torch']}, audiocraft "
            f"{report['versions']['audiocraft']}, Python {report['versions']['python']}",
            f"- Data: `{data['source']}` ({source}): {data['num_clips']} clip(s) from {data['num_files']} file(s), "
            f"{data['total_duration']:.2f} s in total, read at {data['sample_rate']} Hz"
            + (f", segments of {data['segment']:g} s ({data['segment_mode']})" if data['segment'] else "")
            + (f", at most {data['max_clips']} clips" if data['max_clips'] else "") + ".",
            f"- Values: mean over clips [95 % confidence interval] ({ci['method']}, {ci['resamples']} resamples). "
            f"↓ lower is better, ↑ higher is better; n/a: not applicable to that model.", ""]


def _models(models: Mapping) -> list[str]:
    rows = []
    for name, entry in models.items():
        info = entry['info']
        branches = ', '.join(f"{khz(rate)} kHz x {k}" for rate, k in zip(info.get('branch_rates', []),
                                                                          info.get('codebooks_per_branch', [])))
        rows.append([name, f"`{info['checkpoint']}`", info['class'], f"{info['sample_rate']}",
                     branches or f"{info['num_codebooks']} codebooks", f"{info['cardinality']}",
                     f"{info['frame_rate']:g}", f"{info['bandwidth_kbps']:.3g}", "yes" if info['band_split'] else "no"])
    return ["## Models", "", table(['model', 'checkpoint', 'class', 'sample rate (Hz)', 'branches (rate x codebooks)',
                                    'codebook size', 'frame rate (Hz)', 'bitrate (kbps)', 'band split'], rows,
                                   text_columns=5), ""]


def _metrics(report: Mapping) -> list[str]:
    models = report['models']
    lines = ["## Objective metrics per operating point", ""]
    for rate in sorted({int(rate) for entry in models.values() for rate in entry['operating_points']}):
        points = {name: entry['operating_points'].get(str(rate)) for name, entry in models.items()}
        described = [f"{name}: {p['estimate']} vs {p['reference']}, {p['bandwidth_kbps']:.3g} kbps"
                     for name, p in points.items() if p]
        rows = [[f"{METRICS[m].label} {METRICS[m].arrow}", *(cell(get(p, 'aggregate', m)) for p in points.values())]
                for m in report['metrics']]
        lines += [f"### {khz(rate)} kHz output", "", "Estimate vs reference: " + "; ".join(described) + ".", "",
                  table(['metric', *models], rows), ""]
    return lines


def _paired(report: Mapping) -> list[str]:
    paired = report.get('paired')
    if not paired:
        return []
    baseline, differences = paired['baseline'], paired['differences']
    lines = [f"## Paired differences against {baseline}", "",
             f"Per clip, model minus {baseline} on the same clips; mean [95 % bootstrap interval] and whether the "
             f"model is better: held (the interval is on the better side of 0), not held (on the worse side), "
             f"inconclusive (it contains 0).", ""]
    rates = sorted({int(rate) for entry in differences.values() for rate in entry})
    for rate in rates:
        names = [name for name, entry in differences.items() if str(rate) in entry]
        rows = [[f"{METRICS[m].label} {METRICS[m].arrow}",
                 *(f"{cell(d)} {d['verdict']}" for d in (differences[n][str(rate)][m] for n in names))]
                for m in report['metrics']]
        lines += [f"### {khz(rate)} kHz", "", table(['metric', *names], rows), ""]
    return lines


def _figures(report: Mapping) -> list[str]:
    clip = report['data']['clips'][report['figure_clip']]['name']
    lines = ["## Spectrograms", "", f"Clip {report['figure_clip']} (`{clip}`). Band-split models: input, upsampled "
             f"low-branch output and high-branch output, crossover frequency dashed; other models: input and output. "
             f"Shared colour scale (dB) within each figure.", ""]
    for name, entry in report['models'].items():
        if entry.get('figure'):
            lines += [f"**{name}**", "", f"![{name}]({entry['figure']})", ""]
    skipped = [(name, analysis, entry[analysis.key]['reason']) for name, entry in report['models'].items()
               for analysis in ANALYSES if not entry[analysis.key]['applicable']]
    if skipped:
        lines += ["## Not applicable", ""]
        lines += [f"- {name}, {analysis.title.lower()}: {reason}" for name, analysis, reason in skipped] + [""]
    return lines


def _definitions(report: Mapping, sig: Mapping[str, str]) -> list[str]:
    low = sig['low'].replace('U(', '').rstrip(')')
    return ["## Definitions", "",
            *(f"- {METRICS[m].label}: {report['metric_definitions'][m]}" for m in report['metrics']),
            f"- Operating points: a band-split model is scored at each branch rate; at the low rate the estimate is "
            f"the low-branch reconstruction (`branch_recons[0]`, {low}) and the reference the clip downsampled by "
            f"the model (`branch_targets[0]`); at the top rate the full output against the clip. Other models are "
            f"scored at their own rate only (`evaluation/scoring.py`).",
            "- Band SDR: `band_analysis.band_sdr`, SDR of the zero-phase FFT brick-wall band-limited estimate against "
            "the band-limited reference; crossover SDR: band SDR in a 1 kHz window centred on the crossover; energy "
            "share: projection coefficient of a contribution on the output in a band (shares of the contributions "
            "add up to 1); energy fraction: share of a signal's own energy in a band (`evaluation/band_analysis.py`).",
            "- Inpainting: the model codes the clip low-passed at the crossover (FFT brick wall); residual "
            "r = s_bl - U(d16); both y = U(d16) + d_top and U(d16) are compared with the original full-band clip "
            "(`evaluation/inpainting.py`).",
            "- Token editing: clip i paired with clip i + 1 (cyclically); variants decoded from edited codes and "
            "measured against the codec reconstructions of A and B (`evaluation/token_editing.py`).",
            "- Confidence intervals: `statistics.bootstrap_ci` (scipy BCa bootstrap of the mean, seed 0); clips where "
            "a metric is undefined (NaN) are left out of its mean.", ""]


def render_markdown(report: Mapping) -> str:
    """`report.md` from the content of `report.json`."""
    models = report['models']
    sig = _shared_signals(models)
    lines = _header(report) + _models(models) + _metrics(report)
    lines += _paired(report)
    for analysis in ANALYSES:
        lines += analysis.markdown(models, sig, list(models))
    return '\n'.join(lines + _figures(report) + _definitions(report, sig))
