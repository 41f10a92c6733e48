"""The generated pages in headless Chromium: every audio element loads and plays, the MUSHRA page switches,
seeks and loops, three listeners rate every trial (one through the collecting server), save their results, and
the analysis finds their ratings."""
import json
import os
import threading
import time

import pytest

from bandsplit_audiocraft.evaluation.statistics import bootstrap_ci
from bandsplit_audiocraft.listening.__main__ import main
from bandsplit_audiocraft.listening.analysis import analyse
from bandsplit_audiocraft.listening.order import presentation_order
from bandsplit_audiocraft.listening.results import read_results
from bandsplit_audiocraft.listening.server import make_server
from tests.listening.browser import Browser, find_browser

pytestmark = pytest.mark.slow

RESAMPLES = 999

AUDIO_READY = """
const audios = Array.from(document.querySelectorAll(arguments[0]));
return audios.length === arguments[1] && audios.every(a => a.readyState >= 2 && a.error === null && a.duration > 0);
"""

PLAY_ONE = """
const audio = document.querySelectorAll('audio')[arguments[0]];
const done = arguments[arguments.length - 1];
audio.currentTime = 0;
audio.play().then(() => setTimeout(() => {
  const time = audio.currentTime; audio.pause(); done({src: audio.getAttribute('src'), time: time});
}, 400)).catch(error => done({src: audio.getAttribute('src'), error: String(error)}));
"""

SET_RATINGS = """
const ratings = arguments[0];
for (const slider of document.querySelectorAll('#conditions input.rating')) {
  slider.value = ratings[slider.dataset.key];
  slider.dispatchEvent(new Event('input', {bubbles: true}));
  slider.dispatchEvent(new Event('change', {bubbles: true}));
}
return Object.fromEntries(Array.from(document.querySelectorAll('#conditions .condition:not(.reference)'))
  .map(box => [box.querySelector('input.rating').dataset.key, Number(box.querySelector('output').textContent)]));
"""

CURRENT = """
const c = window.mushra.current();
return c ? {key: c.dataset.key, time: c.currentTime, paused: c.paused} : null;
"""

PLAYING_PAST = """
const c = window.mushra.current();
return c && !c.paused && c.currentTime > arguments[0] ? {key: c.dataset.key, time: c.currentTime} : null;
"""


def rating(listener: str, trial: int, condition: str) -> int:
    """The rating each listener enters: L3 misses the hidden reference in every trial (post-screening)."""
    base = {'reference': 100 if listener == 'L1' else 94, 'bandsplit': 72, 'single': 51, 'anchor_7kHz': 38,
            'anchor_3.5kHz': 17}[condition]
    if listener == 'L3':
        return 60 if condition == 'reference' else 55
    return base - (3 * trial if condition != 'reference' else 0) + (5 if listener == 'L2' else 0) * (
        condition != 'reference')


@pytest.fixture(scope='module')
def browser_paths() -> tuple[str, str]:
    found, reason = find_browser()
    if found is None:
        if os.environ.get('CI'):  # CI installs the browser: a missing one there is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture
def browser(browser_paths, tmp_path):
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    instance = Browser(*browser_paths, downloads)
    instance.downloads = downloads
    yield instance
    instance.close()


def test_demo_page_plays_every_stimulus(browser, pages_dir):
    catalogue = json.loads((pages_dir / 'pages.json').read_text())
    expected = [s['audio'] for clip in catalogue['clips'] for s in clip['stimuli'] if s['kind'] != 'anchor']
    browser.get((pages_dir / 'index.html').as_uri())
    browser.wait(AUDIO_READY, 60, 'audio', len(expected))
    played = [browser.run_async(PLAY_ONE, index) for index in range(len(expected))]
    assert [p['src'] for p in played] == expected
    for entry in played:
        assert 'error' not in entry and entry['time'] > 0.1, entry
    images = browser.run("return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0);")
    assert len(images) == len(expected) and all(images)


def check_playback(browser: Browser, conditions: list[str]) -> None:
    """Switching keeps the position, the position slider seeks, the loop region loops, stop stops."""
    first, second, third = conditions[:3]
    browser.click(f'button.play[data-key="{first}"]')
    state = browser.wait(PLAYING_PAST, 20, 0.3)
    assert state['key'] == first
    browser.click(f'button.play[data-key="{second}"]')
    now = browser.run(CURRENT)
    assert now['key'] == second and not now['paused'] and now['time'] >= state['time'] - 0.05
    assert browser.run(f"return window.mushra.players()['{first}'].paused;")
    browser.run("const p = document.getElementById('position'); p.value = 0.6; "
                "p.dispatchEvent(new Event('input', {bubbles: true}));")
    assert browser.run(CURRENT)['time'] == pytest.approx(0.6, abs=0.25)
    browser.run("document.getElementById('loop-start').value = 0.1; document.getElementById('loop-end').value = 0.4;")
    browser.click(f'button.play[data-key="{third}"]')
    times = []
    for _ in range(15):  # 1.5 s of a 1 s clip: without the loop it would have ended
        time.sleep(0.1)
        current = browser.run(CURRENT)
        assert current['key'] == third and not current['paused']
        times.append(current['time'])
    # The 0.3 s region loops several times in 1.5 s (the whole 1 s clip would loop at most once).
    assert max(times) < 0.9 and min(times) >= 0.1 - 1e-6
    assert sum(1 for before, after in zip(times, times[1:]) if after < before) >= 2, times
    browser.click('#stop')
    assert browser.run(CURRENT)['paused']


def take_test(browser: Browser, url: str, listener: str, catalogue: dict, playback: bool) -> dict:
    browser.get(url)
    browser.type('#listener', listener)
    browser.click('#start')
    order = browser.run("return window.mushra.state.order.map(e => [e.trial.id, e.conditions]);")
    assert order == [[t, c] for t, c in presentation_order(catalogue['test'], listener, catalogue['trials'])]
    trial_index = {trial['id']: index for index, trial in enumerate(catalogue['trials'])}
    for position, (trial, conditions) in enumerate(order):
        browser.wait(AUDIO_READY, 60, '#players audio', len(conditions) + 1)
        assert browser.run("return document.getElementById('trial-title').textContent;") == \
            f"Trial {position + 1} of {len(order)}"
        if playback and position == 0:
            check_playback(browser, conditions)
        ratings = {name: rating(listener, trial_index[trial], name) for name in conditions}
        assert browser.run(SET_RATINGS, ratings) == ratings
        browser.click('#next')
    assert browser.run("return !document.getElementById('done').hidden;")
    browser.click('#save')
    if url.startswith('http'):
        browser.wait("return document.getElementById('status').textContent.includes('Sent');", 30)
    path = browser.downloads / f"mushra_{catalogue['test']}_{listener}.json"
    deadline = time.monotonic() + 30
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.is_file(), list(browser.downloads.iterdir())
    time.sleep(0.2)
    return json.loads(path.read_text())


@pytest.fixture
def server(pages_dir, tmp_path):
    """The collecting server on the pages, in a thread."""
    instance = make_server(pages_dir, tmp_path / 'collected', port=0)
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    yield instance
    instance.shutdown()
    instance.server_close()


def test_mushra_page_from_ratings_to_analysis(browser, pages_dir, server, tmp_path):
    """L1 and L3 open the page from disk; L2 from the collecting server, which stores what L2's page sends."""
    catalogue = json.loads((pages_dir / 'pages.json').read_text())
    host, port = server.server_address[:2]
    urls = {'L1': (pages_dir / 'mushra.html').as_uri(), 'L2': f'http://{host}:{port}/mushra.html',
            'L3': (pages_dir / 'mushra.html').as_uri()}
    saved = {name: take_test(browser, url, name, catalogue, playback=name == 'L1') for name, url in urls.items()}
    collected = list((tmp_path / 'collected').glob('*.json'))
    assert len(collected) == 1 and json.loads(collected[0].read_text()) == saved['L2']
    trial_index = {trial['id']: index for index, trial in enumerate(catalogue['trials'])}
    for listener, result in saved.items():
        assert result['listener'] == listener and result['test'] == catalogue['test']
        for trial in result['trials']:
            assert trial['ratings'] == {name: rating(listener, trial_index[trial['id']], name)
                                        for name in trial['order']}
    assert set(saved['L1']['trials'][0]['played']) >= set(saved['L1']['trials'][0]['order'][:3])

    analysis = analyse(read_results([browser.downloads]), baseline='single', resamples=RESAMPLES)
    assert analysis['excluded'] == ['L3'] and analysis['kept'] == ['L1', 'L2']
    for rate, point in analysis['operating_points'].items():
        trials = [t for t in catalogue['trials'] if t['sample_rate'] == int(rate)]
        for name, entry in point['conditions'].items():
            entered = [rating(listener, trial_index[t['id']], name)  # in (listener, trial id) order
                       for listener in ('L1', 'L2') for t in sorted(trials, key=lambda t: t['id'])]
            assert entry['n'] == len(entered)
            assert entry['mean'] == pytest.approx(sum(entered) / len(entered))
            assert (entry['ci_low'], entry['ci_high']) == pytest.approx(
                bootstrap_ci(entered, n_resamples=RESAMPLES)[1:])
        if rate == '32000':  # bandsplit is rated 21 points above single by both listeners in every trial
            assert point['paired']['bandsplit']['mean'] == pytest.approx(21)
            assert point['paired']['bandsplit']['verdict'] == 'better'
            assert point['paired']['anchor_3.5kHz']['verdict'] == 'worse'
        else:  # no single-branch model at 16 kHz: nothing to compare with
            assert point['paired'] is None

    out = tmp_path / 'analysis'
    assert main(['analyse', str(browser.downloads), '--out', str(out), '--baseline', 'single',
                 '--bootstrap-resamples', str(RESAMPLES)]) == 0
    assert '1 excluded by post-screening' in (out / 'analysis.md').read_text()
