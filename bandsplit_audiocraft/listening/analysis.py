"""Analysis of MUSHRA result files: post-screening, per-condition means with 95 % intervals, paired differences
against a baseline, a box plot and a Markdown table.

1. Post-screening (ITU-R BS.1534-3): a listener who rates the hidden reference below `REFERENCE_THRESHOLD` (90)
   in more than `MAX_FRACTION` (15 %) of their trials is excluded; the count and ids are reported.
2. Per operating point and condition, the mean of the kept ratings over (listener, trial) with a 95 % BCa
   bootstrap interval of the mean (`evaluation.statistics.aggregate`, 9999 resamples, seed 0).
3. With a baseline (a condition name, e.g. a model), every other condition's paired difference from it over the
   (listener, trial) pairs that rated both (`evaluation.statistics.paired_difference`), with its interval and a
   verdict: `better` when the interval lies above 0, `worse` when below, `inconclusive` otherwise.

`write_analysis` writes `analysis.json`, `analysis.md` and `boxplot.png`.
"""

from collections.abc import Sequence
import json
from pathlib import Path
import re
import typing as tp

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..evaluation.figures import save_figure
from ..evaluation.sections import khz
from ..evaluation.statistics import CONFIDENCE, aggregate, json_safe, paired_difference
from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes
from .stimuli import REFERENCE

REFERENCE_THRESHOLD = 90.0
"""A hidden reference rated below this is a miss (post-screening)."""

MAX_FRACTION = 0.15
"""A listener who misses the hidden reference in more than this fraction of their trials is excluded."""

VERDICTS = {'held': 'better', 'not held': 'worse', 'inconclusive': 'inconclusive'}
"""`paired_difference` verdicts on "the condition is rated higher than the baseline", in words."""


def screen(results: Sequence[dict[str, tp.Any]], threshold: float = REFERENCE_THRESHOLD,
           max_fraction: float = MAX_FRACTION) -> dict[str, dict[str, tp.Any]]:
    """Post-screening of every listener: `listener -> {'trials', 'misses', 'fraction', 'excluded'}`, where
    `misses` counts the trials whose hidden reference is rated below `threshold` (trials without a hidden
    reference rating are not counted)."""
    screening = {}
    for result in results:
        rated = [trial['ratings'][REFERENCE] for trial in result['trials'] if REFERENCE in trial['ratings']]
        misses = sum(1 for value in rated if value < threshold)
        fraction = misses / len(rated) if rated else 0.0
        screening[result['listener']] = {'trials': len(rated), 'misses': misses, 'fraction': fraction,
                                         'excluded': fraction > max_fraction}
    return screening


def _condition_key(name: str) -> tuple[int, float, str]:
    """Reference first, then the models by name, then the anchors from the highest cut-off."""
    if name == REFERENCE:
        return 0, 0.0, ''
    match = re.fullmatch(r'anchor_([0-9.]+)kHz', name)
    if match:
        return 2, -float(match.group(1)), name
    return 1, 0.0, name


def collect(results: Sequence[dict[str, tp.Any]]) -> dict[int, dict[str, dict[tuple[str, str], float]]]:
    """Ratings `rate -> condition -> {(listener, trial id): rating}`, conditions in report order and ratings sorted
    by (listener, trial id), so that the bootstrap intervals do not depend on the order trials were presented in."""
    table: dict[int, dict[str, dict[tuple[str, str], float]]] = {}
    for result in results:
        for trial in result['trials']:
            for name, value in trial['ratings'].items():
                key = (result['listener'], trial['id'])
                table.setdefault(trial['sample_rate'], {}).setdefault(name, {})[key] = float(value)
    return {rate: {name: dict(sorted(table[rate][name].items())) for name in sorted(table[rate], key=_condition_key)}
            for rate in sorted(table, reverse=True)}


def analyse(results: Sequence[dict[str, tp.Any]], baseline: str | None = None, *, resamples: int = 9999,
            threshold: float = REFERENCE_THRESHOLD, max_fraction: float = MAX_FRACTION) -> dict[str, tp.Any]:
    """Screen the listeners and summarise the ratings of the others (see the module docstring).

    Args:
        results: Result objects (`results.read_results`).
        baseline: Condition the others are compared with, pair by pair (None: no comparison).
        resamples: Bootstrap resamples of every interval.
        threshold, max_fraction: Post-screening rule.
    Returns:
        dict: `{'test', 'listeners', 'screening', 'excluded', 'kept', 'baseline', 'interval',
        'operating_points': {rate: {'conditions': {name: {'mean', 'ci_low', 'ci_high', 'n', 'ratings'}},
        'paired': {name: {'mean', 'ci_low', 'ci_high', 'n', 'verdict'}} or None}}}` (rates as strings).
    Raises:
        ValueError: Every listener is excluded, or the baseline is never rated.
    """
    screening = screen(results, threshold, max_fraction)
    excluded = [name for name, entry in screening.items() if entry['excluded']]
    kept = [result for result in results if not screening[result['listener']]['excluded']]
    if not kept:
        raise ValueError(f"Post-screening excluded every listener ({len(results)}): each rated the hidden "
                         f"reference below {threshold:g} in more than {max_fraction:.0%} of their trials.")
    table = collect(kept)
    if baseline is not None and not any(baseline in conditions for conditions in table.values()):
        names = sorted({name for conditions in table.values() for name in conditions})
        raise ValueError(f"The baseline {baseline!r} is not a rated condition; choose one of {names}.")
    points = {}
    for rate, conditions in table.items():
        summary = {name: {**aggregate(list(values.values()), resamples), 'ratings': list(values.values())}
                   for name, values in conditions.items()}
        paired = None
        if baseline is not None and baseline in conditions:
            reference = conditions[baseline]
            paired = {}
            for name, values in conditions.items():
                if name == baseline:
                    continue
                keys = [key for key in values if key in reference]
                difference = paired_difference([values[k] for k in keys], [reference[k] for k in keys], True,
                                                resamples)
                paired[name] = {**difference, 'verdict': VERDICTS[difference['verdict']]}
        points[str(rate)] = {'conditions': summary, 'paired': paired}
    return json_safe({
        'test': kept[0].get('test'), 'listeners': len(results), 'screening': screening, 'excluded': excluded,
        'kept': [result['listener'] for result in kept], 'baseline': baseline,
        'rule': {'reference_threshold': threshold, 'max_fraction': max_fraction},
        'interval': {'level': CONFIDENCE, 'method': 'BCa bootstrap of the mean over (listener, trial) ratings',
                     'resamples': resamples, 'seed': 0},
        'operating_points': points,
    })


def _interval(entry: dict[str, tp.Any]) -> str:
    if entry['mean'] is None:
        return 'n/a'
    return f"[{entry['ci_low']:.1f}, {entry['ci_high']:.1f}]"


def render_markdown(analysis: dict[str, tp.Any]) -> str:
    """The analysis as Markdown: the post-screening, then one table per operating point."""
    rule = analysis['rule']
    excluded = analysis['excluded']
    lines = ['# MUSHRA results', '',
             f"Test `{analysis['test']}`: {analysis['listeners']} listener(s), {len(analysis['kept'])} kept, "
             f"{len(excluded)} excluded by post-screening (hidden reference rated below "
             f"{rule['reference_threshold']:g} in more than {rule['max_fraction']:.0%} of their trials)"
             + (f": {', '.join(excluded)}." if excluded else '.'), '',
             f"Means over the kept (listener, trial) ratings with {analysis['interval']['level']:.0%} intervals: "
             f"{analysis['interval']['method']} ({analysis['interval']['resamples']} resamples, seed "
             f"{analysis['interval']['seed']}).", '']
    baseline = analysis['baseline']
    if baseline:
        lines += [f"Differences are paired, condition minus `{baseline}`, over the (listener, trial) pairs that "
                  f"rated both; `better` / `worse` when the interval excludes 0.", '']
    for rate, point in analysis['operating_points'].items():
        lines += [f"## {khz(int(rate))} kHz", '']
        header = '| Condition | Ratings | Mean | 95 % interval |'
        rule_line = '|---|---:|---:|---|'
        if point['paired'] is not None:
            header += f' Difference vs {baseline} | 95 % interval | Verdict |'
            rule_line += '---:|---|---|'
        lines += [header, rule_line]
        for name, entry in point['conditions'].items():
            row = f"| {name} | {entry['n']} | {entry['mean']:.1f} | {_interval(entry)} |"
            if point['paired'] is not None:
                diff = point['paired'].get(name)
                row += (' (baseline) | | |' if diff is None else
                        f" {diff['mean']:+.1f} | {_interval(diff)} | {diff['verdict']} |" if diff['mean'] is not None
                        else ' n/a | | inconclusive |')
            lines.append(row)
        lines.append('')
    return '\n'.join(lines)


def plot_ratings(analysis: dict[str, tp.Any], path: PathLike | None = None) -> Figure:
    """Box plots of the kept ratings, one panel per operating point, conditions in table order."""
    points = analysis['operating_points']
    widths = [max(2.0, 0.9 * len(point['conditions'])) for point in points.values()]
    fig = Figure(figsize=(sum(widths) + 1.0, 4.5), dpi=100, layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(points), sharey=True, squeeze=False, width_ratios=widths)[0]
    for ax, (rate, point) in zip(axes, points.items()):
        names = list(point['conditions'])
        ax.boxplot([point['conditions'][name]['ratings'] for name in names], showmeans=True)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha='right')
        for level in (20, 40, 60, 80):
            ax.axhline(level, color='#bbb', linewidth=0.6, zorder=0)
        ax.set_ylim(0, 100)
        ax.set_title(f"{khz(int(rate))} kHz")
    axes[0].set_ylabel('MUSHRA rating')
    if path is not None:
        save_figure(fig, path)
    return fig


def write_analysis(analysis: dict[str, tp.Any], out: PathLike) -> dict[str, Path]:
    """Write `analysis.json`, `analysis.md` and `boxplot.png` to `out`; returns their paths."""
    out = Path(out)
    files = {'json': out / 'analysis.json', 'markdown': out / 'analysis.md', 'boxplot': out / 'boxplot.png'}
    atomic_write_bytes(files['json'], (json.dumps(analysis, indent=2, allow_nan=False) + '\n').encode(),
                       overwrite=True)
    atomic_write_bytes(files['markdown'], render_markdown(analysis).encode(), overwrite=True)
    plot_ratings(analysis, files['boxplot']).clear()
    return files
