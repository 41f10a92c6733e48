"""Tests of the bootstrap confidence intervals and of the per-clip value trees."""

import math
import warnings

import numpy as np
import pytest
import torch

from bandsplit_audiocraft.evaluation.statistics import (
    aggregate_tree,
    append_tree,
    bootstrap_ci,
    json_safe,
    paired_difference,
    to_floats,
)

# ------------------------------------------------------------------------------------------------------
# Bootstrap confidence intervals
# ------------------------------------------------------------------------------------------------------


def test_bootstrap_ci_contains_the_mean_and_narrows():
    rng = np.random.default_rng(0)
    population = rng.normal(5.0, 2.0, size=800)
    widths = []
    for n in (20, 200, 800):
        values = population[:n]
        mean, low, high = bootstrap_ci(values, n_resamples=2000)
        assert mean == pytest.approx(values.mean())
        assert low < mean < high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # Width of a 95% interval of the mean is about 2 * 1.96 * sigma / sqrt(n).
    assert widths[2] == pytest.approx(2 * 1.96 * 2.0 / math.sqrt(800), rel=0.2)
    # Reproducible, accepts tensors, percentile method, narrower at lower confidence.
    assert bootstrap_ci(population[:50]) == bootstrap_ci(torch.from_numpy(population[:50]))
    _, p_low, p_high = bootstrap_ci(population[:50], method='percentile')
    _, c_low, c_high = bootstrap_ci(population[:50], confidence=0.5)
    assert p_low < population[:50].mean() < p_high
    assert c_high - c_low < p_high - p_low


def test_bootstrap_ci_edge_cases():
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    with pytest.warns(RuntimeWarning, match='dropped 1 NaN'):
        assert bootstrap_ci([1.0, math.nan]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match='1-D'):
        bootstrap_ci(np.zeros((3, 2)))
    with pytest.raises(ValueError, match='no values'):
        bootstrap_ci([])
    with pytest.raises(ValueError, match='infinite'):
        bootstrap_ci([1.0, math.inf])
    with pytest.raises(ValueError, match='confidence'):
        bootstrap_ci([1.0, 2.0], confidence=95)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        mean, low, high = bootstrap_ci([0.0, 1.0])
    assert low <= mean <= high


def test_per_clip_trees_aggregate_and_serialise():
    store: dict = {}
    for value in (1.0, 2.0, math.nan):
        append_tree(store, to_floats({'a': {'b': torch.tensor([value])}, 'c': value}))
    assert store['a']['b'][:2] == [1.0, 2.0] and math.isnan(store['c'][2])
    summary = aggregate_tree(store, resamples=200)
    assert summary['c']['n'] == 2 and summary['c']['mean'] == pytest.approx(1.5)
    assert summary['a']['b']['ci_low'] <= 1.5 <= summary['a']['b']['ci_high']
    assert json_safe({'x': [math.nan, 1.0]}) == {'x': [None, 1.0]}


def test_paired_difference_verdicts():
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 5.0, size=60)  # clips differ a lot; the models differ a little, consistently
    better = base + 0.5 + rng.normal(0.0, 0.2, size=60)
    held = paired_difference(better, base, higher_is_better=True, resamples=2000)
    assert held['verdict'] == 'held' and held['n'] == 60 and 0 < held['ci_low'] < 0.5 < held['ci_high'] < 1
    # The same gap on a metric where lower is better is the worse side: not held.
    assert paired_difference(better, base, higher_is_better=False, resamples=2000)['verdict'] == 'not held'
    # Unpaired intervals of these two models overlap; the paired one does not.
    _, low_a, high_a = bootstrap_ci(better, n_resamples=2000)
    _, low_b, high_b = bootstrap_ci(base, n_resamples=2000)
    assert low_a < high_b and low_b < high_a
    noise = paired_difference(base + rng.normal(0.0, 1.0, size=60), base, higher_is_better=True, resamples=2000)
    assert noise['verdict'] == 'inconclusive' and noise['ci_low'] < 0 < noise['ci_high']
    # Missing clips are dropped from both sides; one pair is not enough for a verdict.
    few = paired_difference([1.0, None, math.nan], [0.0, 1.0, 2.0], higher_is_better=True)
    assert few['n'] == 1 and few['verdict'] == 'inconclusive'
    with pytest.raises(ValueError, match='same clips'):
        paired_difference([1.0], [1.0, 2.0], higher_is_better=True)
