"""Tests of the MUSHRA analysis on synthetic result files with known means and post-screening decisions."""
import json
from pathlib import Path

from matplotlib.image import imread
import pytest

from bandsplit_audiocraft.evaluation.statistics import bootstrap_ci
from bandsplit_audiocraft.listening.__main__ import main
from bandsplit_audiocraft.listening.analysis import analyse, screen
from bandsplit_audiocraft.listening.results import check_results, read_results

RESAMPLES = 999
TRIALS = [('t0', 32000), ('t1', 32000), ('t2', 32000), ('t3', 32000), ('t0', 16000), ('t1', 16000)]
BASE = {'codec': 60, 'base': 40, 'anchor_7kHz': 30, 'anchor_3.5kHz': 10}
OFFSET = {'A': 0, 'B': 10, 'C': -10, 'D': 0, 'E': 0}


def trial_number(trial: str) -> int:
    return int(trial[1:])


def rating(listener: str, trial: str, condition: str, rate: int = 32000) -> int:
    """Kept listeners A, B, C: condition base + listener offset + 2 per trial. D misses the hidden reference
    (rated 80) in 2 of 6 trials, E (rated 89) in 1 of 6 (17 %): both are excluded, and their other ratings are extreme
    so that including them would move every mean."""
    k = trial_number(trial)
    if condition == 'reference':
        if listener == 'D' and k == 0:
            return 80
        if listener == 'E' and trial == 't1' and rate == 32000:
            return 89
        return 100 - k if listener in 'ABC' else 90
    if condition == 'twin':  # the baseline's rating, 3 points above or below, evenly
        return BASE['base'] + OFFSET[listener] + 2 * k + (3 if (k + 'ABC'.find(listener)) % 2 == 0 else -3)
    if listener in 'DE':
        return 0 if condition == 'codec' else 100
    return BASE[condition] + OFFSET[listener] + 2 * k


def result(listener: str) -> dict:
    trials = []
    for position, (trial, rate) in enumerate(TRIALS):
        conditions = ['reference', 'codec', 'base', 'twin', 'anchor_7kHz', 'anchor_3.5kHz']
        trials.append({'id': f'{trial}@{rate // 1000}kHz', 'clip': trial, 'sample_rate': rate, 'position': position,
                       'order': conditions, 'ratings': {c: rating(listener, trial, c, rate) for c in conditions},
                       'played': conditions})
    return {'format': 'bandsplit-mushra-results', 'version': 1, 'test': 'synthetic', 'listener': listener,
            'seed': 0, 'trials': trials}


@pytest.fixture
def result_dir(tmp_path) -> Path:
    folder = tmp_path / 'results'
    folder.mkdir()
    for listener in 'ABCDE':
        (folder / f'{listener}.json').write_text(json.dumps(result(listener)))
    return folder


def test_post_screening_and_means(result_dir):
    analysis = analyse(read_results([result_dir]), baseline='base', resamples=RESAMPLES)
    assert analysis['excluded'] == ['D', 'E'] and analysis['kept'] == ['A', 'B', 'C']
    assert analysis['screening']['D'] == {'trials': 6, 'misses': 2, 'fraction': pytest.approx(2 / 6),
                                          'excluded': True}
    assert analysis['screening']['E']['misses'] == 1 and analysis['screening']['A']['misses'] == 0
    top, low = analysis['operating_points']['32000'], analysis['operating_points']['16000']
    assert list(top['conditions']) == ['reference', 'base', 'codec', 'twin', 'anchor_7kHz', 'anchor_3.5kHz']
    # Means worked out by hand: base + mean offset (0) + mean of 2k over the trials of the rate.
    assert top['conditions']['codec']['mean'] == pytest.approx(63.0)
    assert top['conditions']['base']['mean'] == pytest.approx(43.0)
    assert top['conditions']['anchor_3.5kHz']['mean'] == pytest.approx(13.0)
    assert top['conditions']['reference']['mean'] == pytest.approx(98.5)
    assert low['conditions']['codec']['mean'] == pytest.approx(61.0)
    assert top['conditions']['codec']['n'] == 12 and low['conditions']['codec']['n'] == 6
    codec = [rating(listener, f't{k}', 'codec') for listener in 'ABC' for k in range(4)]
    entry = top['conditions']['codec']
    assert (entry['ci_low'], entry['ci_high']) == pytest.approx(bootstrap_ci(codec, n_resamples=RESAMPLES)[1:])
    assert entry['ci_low'] < 63.0 < entry['ci_high']
    # Paired differences against the baseline, over the 12 (listener, trial) pairs at 32 kHz.
    paired = top['paired']
    assert 'base' not in paired
    assert paired['codec'] == {'mean': pytest.approx(20.0), 'ci_low': pytest.approx(20.0),
                               'ci_high': pytest.approx(20.0), 'n': 12, 'verdict': 'better'}
    assert paired['anchor_7kHz']['verdict'] == 'worse' and paired['anchor_7kHz']['mean'] == pytest.approx(-10.0)
    assert paired['twin']['mean'] == pytest.approx(0.0) and paired['twin']['verdict'] == 'inconclusive'
    assert paired['twin']['ci_low'] < 0 < paired['twin']['ci_high']


def test_screening_rule_boundary():
    """More than 15 % of trials is excluded: 1 miss in 6 trials (17 %) is, 1 in 7 (14 %) is not."""
    six = result('A')
    six['trials'][0]['ratings']['reference'] = 89.9
    seven = result('B')
    seven['trials'].append({**seven['trials'][0], 'id': 'extra'})
    seven['trials'][0]['ratings'] = {**seven['trials'][0]['ratings'], 'reference': 50}
    decisions = screen([six, seven])
    assert decisions['A']['excluded'] and not decisions['B']['excluded']
    assert decisions['B']['misses'] == 1 and decisions['B']['trials'] == 7


def test_analyse_command(result_dir, tmp_path):
    out = tmp_path / 'analysis'
    assert main(['analyse', str(result_dir), '--out', str(out), '--baseline', 'base',
                 '--bootstrap-resamples', str(RESAMPLES)]) == 0
    markdown = (out / 'analysis.md').read_text()
    assert '5 listener(s), 3 kept, 2 excluded by post-screening' in markdown and ': D, E.' in markdown
    assert '| codec | 12 | 63.0 |' in markdown and '| +20.0 | [20.0, 20.0] | better |' in markdown
    assert json.loads((out / 'analysis.json').read_text())['excluded'] == ['D', 'E']
    image = imread(out / 'boxplot.png')
    assert image.ndim == 3 and image.shape[0] > 100
    with pytest.raises(SystemExit) as exit_info:
        main(['analyse', str(result_dir), '--out', str(out), '--baseline', 'nothing'])
    assert exit_info.value.code == 2


def test_bad_result_files(result_dir, tmp_path):
    with pytest.raises(ValueError, match='excluded every listener'):
        analyse(read_results([result_dir / 'D.json', result_dir / 'E.json']))
    copy = tmp_path / 'copy.json'
    copy.write_text((result_dir / 'A.json').read_text())
    with pytest.raises(ValueError, match='more than one result file'):
        read_results([result_dir / 'A.json', copy])
    bad = result('A')
    bad['trials'][0]['ratings']['codec'] = 120
    with pytest.raises(ValueError, match='not a number in 0-100'):
        check_results(bad)
    with pytest.raises(ValueError, match='not a MUSHRA result file'):
        check_results({'format': 'other'})
