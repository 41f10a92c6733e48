"""Summaries of per-clip values: bootstrap confidence intervals, paired differences between models scored on
the same clips, and the nested dicts the report stores.

Scores are kept as nested dicts whose leaves are per-clip values (`[B]` tensors from a metric or an analysis,
then lists of floats, one per clip, once `append_tree` has gathered the clips). `aggregate_tree` turns every
list into its mean with a bootstrap confidence interval, `json_safe` makes a tree writable as strict JSON.
"""

from collections.abc import Mapping, Sequence
import math
from pathlib import Path
import typing as tp
import warnings

import numpy as np
import torch

CONFIDENCE = 0.95
"""Level of every confidence interval of the evaluation."""


def bootstrap_ci(values: Sequence[float] | np.ndarray | torch.Tensor, confidence: float = 0.95,
                 n_resamples: int = 9999, seed: int = 0, method: str = 'BCa') -> tuple[float, float, float]:
    """Mean of per-clip `values` with a bootstrap confidence interval for the mean.

    Uses `scipy.stats.bootstrap` on the sample mean, with `method` 'BCa' (bias-corrected and accelerated,
    the default) or 'percentile', `n_resamples` resamples and a generator seeded with `seed`, so that the
    interval is reproducible. NaN values (clips a metric could not score) are dropped with a warning.
    With a single value, or values that are all equal, the interval is `(mean, mean, mean)`.

    Args:
        values: 1-D per-clip values.
        confidence (float): Confidence level, in (0, 1).
        n_resamples (int): Number of bootstrap resamples.
        seed (int): Seed of the resampling.
        method (str): 'BCa' or 'percentile'.
    Returns:
        tuple: `(mean, low, high)` as floats.
    """
    from scipy.stats import bootstrap

    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1:
        raise ValueError(f"bootstrap_ci expects a 1-D array of per-clip values, got shape {data.shape}.")
    if not 0 < confidence < 1:
        raise ValueError(f"The confidence level must lie strictly between 0 and 1, got {confidence}.")
    if method not in ('BCa', 'percentile'):
        raise ValueError(f"method must be 'BCa' or 'percentile', got {method!r}.")
    if np.isinf(data).any():
        raise ValueError("bootstrap_ci got infinite values.")
    nans = np.isnan(data)
    if nans.any():
        warnings.warn(f"bootstrap_ci dropped {int(nans.sum())} NaN value(s) out of {len(data)}.",
                      RuntimeWarning, stacklevel=2)
        data = data[~nans]
    if data.size == 0:
        raise ValueError("bootstrap_ci got no values (after dropping NaNs).")
    mean = float(data.mean())
    if data.size < 2 or np.all(data == data[0]):
        return mean, mean, mean
    result = bootstrap((data,), np.mean, n_resamples=int(n_resamples), confidence_level=confidence,
                       method=method, rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa can be undefined on near-degenerate data.
        result = bootstrap((data,), np.mean, n_resamples=int(n_resamples), confidence_level=confidence,
                           method='percentile', rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return mean, low, high


def aggregate(values: Sequence[float | None], resamples: int = 9999) -> dict[str, float | int | None]:
    """`{'mean', 'ci_low', 'ci_high', 'n'}` of per-clip values (`bootstrap_ci` at `CONFIDENCE`), leaving out
    non-finite values and None (clips a metric could not score)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {'mean': None, 'ci_low': None, 'ci_high': None, 'n': 0}
    mean, low, high = bootstrap_ci(finite, confidence=CONFIDENCE, n_resamples=resamples)
    return {'mean': mean, 'ci_low': low, 'ci_high': high, 'n': len(finite)}


def aggregate_tree(tree: Mapping, resamples: int = 9999) -> dict:
    """`aggregate` applied to every list of a nested dict of per-clip lists."""
    return {key: aggregate_tree(value, resamples) if isinstance(value, Mapping) else aggregate(value, resamples)
            for key, value in tree.items()}


def to_floats(tree: tp.Any) -> tp.Any:
    """Nested dict of one-clip values (`[1]` tensors or numbers) -> the same nesting of floats."""
    if isinstance(tree, Mapping):
        return {key: to_floats(value) for key, value in tree.items()}
    if isinstance(tree, torch.Tensor):
        return float(tree.detach().double().mean().cpu())
    return float(tree)


def append_tree(store: dict, tree: Mapping) -> None:
    """Append the leaves of `tree` (one clip's nested dict) to the per-clip lists of `store` (same nesting)."""
    for key, value in tree.items():
        if isinstance(value, Mapping):
            append_tree(store.setdefault(key, {}), value)
        else:
            store.setdefault(key, []).append(value)


def mean_over_clips(result: Mapping) -> dict:
    """Replace every per-clip tensor of a nested result dict by its mean over clips (NaN clips ignored)."""
    return {key: mean_over_clips(value) if isinstance(value, Mapping) else
            float(torch.nanmean(value.double())) if isinstance(value, torch.Tensor) else value
            for key, value in result.items()}


def paired_difference(a: Sequence[float | None], b: Sequence[float | None], higher_is_better: bool,
                      resamples: int = 9999, seed: int = 0) -> dict[str, tp.Any]:
    """Paired per-clip difference `a - b` of two models scored on the same clips, with its bootstrap interval
    and a verdict on "a is better than b".

    Clips where either value is missing or not finite are left out of both. The verdict is `held` when the
    `CONFIDENCE` interval of the mean difference lies entirely on the better side of 0 (above it when
    `higher_is_better`), `not held` when it lies entirely on the worse side, `inconclusive` when it contains 0
    or fewer than two clips are paired.

    Returns:
        dict: `{'mean', 'ci_low', 'ci_high', 'n', 'verdict'}` (mean and interval None when no clip is left).
    """
    if len(a) != len(b):
        raise ValueError(f"Paired values need the same clips on both sides, got {len(a)} and {len(b)} values.")
    diffs = [float(x) - float(y) for x, y in zip(a, b)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if not diffs:
        return {'mean': None, 'ci_low': None, 'ci_high': None, 'n': 0, 'verdict': 'inconclusive'}
    mean, low, high = bootstrap_ci(diffs, confidence=CONFIDENCE, n_resamples=resamples, seed=seed)
    better, worse = (low > 0, high < 0) if higher_is_better else (high < 0, low > 0)
    verdict = 'inconclusive' if len(diffs) < 2 else 'held' if better else 'not held' if worse else 'inconclusive'
    return {'mean': mean, 'ci_low': low, 'ci_high': high, 'n': len(diffs), 'verdict': verdict}


def json_safe(tree: tp.Any) -> tp.Any:
    """Replace non-finite floats by None (JSON has no NaN) and paths by strings."""
    if isinstance(tree, Mapping):
        return {str(key): json_safe(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [json_safe(value) for value in tree]
    if isinstance(tree, float):
        return tree if math.isfinite(tree) else None
    if isinstance(tree, Path):
        return str(tree)
    return tree
