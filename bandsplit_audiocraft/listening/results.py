"""Result files of the MUSHRA page: reading and checking them.

A result file is the JSON object the page saves (`static/mushra.js`)::

    {"format": "bandsplit-mushra-results", "version": 1, "test": "<test id>", "listener": "<id>", "seed": <int>,
     "started": "<ISO time>", "finished": "<ISO time>", "user_agent": "...",
     "trials": [{"id": "<clip>@32kHz", "clip": "<clip name>", "sample_rate": 32000, "position": 0,
                 "order": ["<condition>", ...], "ratings": {"<condition>": 0-100, ...}, "played": [...]}, ...]}

Conditions are stored by name (`reference` is the hidden reference, `anchor_3.5kHz` and `anchor_7kHz` the
anchors, the others are models), so the analysis needs neither the pages nor the listener's order.
"""

from collections.abc import Iterable
import json
from pathlib import Path
import typing as tp

from ..utils import PathLike
from .mushra_page import RESULTS_FORMAT


def check_results(data: tp.Any, source: str = 'result') -> dict[str, tp.Any]:
    """`data` if it is a valid result object, else ValueError naming `source` and the problem."""
    if not isinstance(data, dict) or data.get('format') != RESULTS_FORMAT:
        raise ValueError(f"{source} is not a MUSHRA result file (its 'format' is not {RESULTS_FORMAT!r}).")
    if not isinstance(data.get('listener'), str) or not data['listener'].strip():
        raise ValueError(f"{source} names no listener.")
    trials = data.get('trials')
    if not isinstance(trials, list) or not trials:
        raise ValueError(f"{source} holds no trial.")
    for trial in trials:
        if not isinstance(trial, dict) or not isinstance(trial.get('id'), str):
            raise ValueError(f"{source} has a trial without an id.")
        if not isinstance(trial.get('sample_rate'), int):
            raise ValueError(f"{source}: trial {trial['id']} has no sample rate.")
        ratings = trial.get('ratings')
        if not isinstance(ratings, dict) or not ratings:
            raise ValueError(f"{source}: trial {trial['id']} has no ratings.")
        for name, value in ratings.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ValueError(f"{source}: trial {trial['id']} rates {name!r} {value!r}, not a number in 0-100.")
    if len({trial['id'] for trial in trials}) != len(trials):
        raise ValueError(f"{source} rates a trial twice.")
    return data


def result_paths(sources: Iterable[PathLike]) -> list[Path]:
    """Result files given as files or folders (every `*.json` file of a folder, sorted)."""
    paths: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            paths += sorted(path.glob('*.json'))
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"No result file or folder at {str(path)!r}.")
    if not paths:
        raise ValueError("No result file (*.json) was found.")
    return paths


def read_results(sources: Iterable[PathLike]) -> list[dict[str, tp.Any]]:
    """Every result file of `sources`, checked; one listener per file, all of the same test.

    Raises:
        ValueError: A file is not a result file, two files have the same listener, or they come from different
            tests (different pages).
    """
    results = []
    for path in result_paths(sources):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{str(path)!r} is not JSON: {error}") from None
        results.append(check_results(data, repr(str(path))))
    listeners = [r['listener'] for r in results]
    repeated = sorted({name for name in listeners if listeners.count(name) > 1})
    if repeated:
        raise ValueError(f"Listener(s) {repeated} have more than one result file; keep one file per listener.")
    tests = sorted({str(r.get('test')) for r in results})
    if len(tests) > 1:
        raise ValueError(f"The result files come from different tests {tests}: analyse one test at a time.")
    return results
