"""What every analysis of the evaluation report shares: the `Analysis` base class and Markdown table helpers.

An analysis (band analysis, toy inpainting, band token editing) measures something on a band-split model, clip
by clip, and renders its own section of `report.md`. The report runs every class listed in
`scoring.ANALYSES` on every band-split model; adding an analysis is writing a subclass and listing it there.
"""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
import typing as tp

import torch

from ..models.bandsplit import BandSplitResult, is_band_split
from .statistics import aggregate_tree, append_tree, to_floats


class Analysis:
    """One analysis of one band-split model (`is_band_split`), fed clip by clip by the report.

    Subclasses set `key` (the section's key in `report.json`), `title` and `heading`, and define `measure`
    (one clip's nested dict of values), optionally `describe` (extra JSON fields) or `finish`, and `body`.
    """
    key: tp.ClassVar[str]
    title: tp.ClassVar[str]
    heading: tp.ClassVar[str]

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.values: dict = {}

    @classmethod
    def applies(cls, model: torch.nn.Module) -> bool:
        return is_band_split(model)

    @classmethod
    def not_applicable(cls, model: torch.nn.Module) -> dict:
        return {'applicable': False, 'reason': not_band_split(model, cls.title)}

    def measure(self, x: torch.Tensor, result: BandSplitResult) -> Mapping:
        """Values of one clip `x` `[1, C, T]` given the model's forward `result` (nested dict of `[1]`)."""
        raise NotImplementedError

    def add(self, x: torch.Tensor, result: BandSplitResult) -> None:
        append_tree(self.values, to_floats(self.measure(x, result)))

    def describe(self) -> dict:
        """Fields of the JSON section besides the values."""
        return {}

    def finish(self, resamples: int, clip: Callable[[int], torch.Tensor], examples: Path | None) -> dict:
        """The JSON section, once every clip was added (`clip(i)` gives clip `i` as the model's input)."""
        return {'applicable': True, **self.describe(), 'per_clip': self.values,
                'aggregate': aggregate_tree(self.values, resamples)}

    @classmethod
    def markdown(cls, models: Mapping[str, Mapping], signals: Mapping[str, str], header: Sequence[str]) -> list[str]:
        """Lines of the section of `report.md`, from every model's entry of `report.json` (`models`), the names
        of the band-split signals and the table header (model names)."""
        lines = [f"## {cls.heading}", ""]
        if not any(entry[cls.key].get('applicable') for entry in models.values()):
            return lines + ["Not applicable to any of the models (see below).", ""]
        return lines + cls.body([entry[cls.key] for entry in models.values()], models, signals, header)

    @staticmethod
    def body(sections: Sequence[Mapping], models: Mapping[str, Mapping], signals: Mapping[str, str],
             header: Sequence[str]) -> list[str]:
        """The section's text and tables, when it applies to one model at least (`sections`: its entries)."""
        raise NotImplementedError


def not_band_split(model: torch.nn.Module, what: str) -> str:
    """Why `what` cannot run on `model`, a model that is not band-split."""
    bands = len(getattr(model, 'branches', [])) or 1
    return f"{what} needs a band-split model with at least two branches; {type(model).__name__} codes {bands} band(s)."


def require_band_split(model: torch.nn.Module, what: str) -> None:
    """Raise a ValueError unless `model` is band-split (`is_band_split`)."""
    if not is_band_split(model):
        raise ValueError(not_band_split(model, what))


# ----------------------------------------------------------------------------------------------------------
# Markdown helpers
# ----------------------------------------------------------------------------------------------------------


def khz(rate: float) -> str:
    return f"{rate / 1000:g}"


def band_text(label: str) -> str:
    """`'0-8000'` -> `'0-8 kHz'`."""
    low, high = (float(v) for v in label.split('-'))
    return f"{khz(low)}-{khz(high)} kHz"


def signal_names(branch_rates: Sequence[int]) -> dict[str, str]:
    """Names of the band-analysis signals of a band-split model, e.g. `{'low': 'U(d16)', 'high': 'd32', ...}`."""
    top = khz(branch_rates[-1])
    low = f"U(d{khz(branch_rates[0])})" if len(branch_rates) == 2 else f"U(y{khz(branch_rates[-2])})"
    return {'low': low, 'high': f"d{top}", 'output': f"y{top}", 'input': f"s{top}"}


def fmt(value: float | None) -> str:
    if value is None:
        return "nan"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def cell(stats: Mapping | None) -> str:
    """`mean [low, high]` of an aggregate, `n/a` when missing."""
    if not stats:
        return "n/a"
    if stats.get('mean') is None:
        return "nan"
    return f"{fmt(stats['mean'])} [{fmt(stats['ci_low'])}, {fmt(stats['ci_high'])}]"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A Markdown table; the first `text_columns` columns are left-aligned, the others right-aligned."""
    align = ['---'] * text_columns + ['---:'] * (len(header) - text_columns)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def get(tree: Mapping | None, *keys: str) -> tp.Any:
    """`tree[k1][k2]...`, or None where a key is missing."""
    for key in keys:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def section_rows(models: Mapping, section: str, specs: Sequence[tuple[str, Sequence[str]]]) -> list[list[str]]:
    """One row per `(label, keys)` of `specs`: each model's aggregate at `keys` in `section`; rows that are
    n/a for every model are left out."""
    rows = []
    for label, keys in specs:
        cells = [cell(get(entry[section], 'aggregate', *keys)) if entry[section].get('applicable') else "n/a"
                 for entry in models.values()]
        if any(c != "n/a" for c in cells):
            rows.append([label, *cells])
    return rows
