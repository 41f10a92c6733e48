"""Background runs: slow subprocesses of the tests (fresh interpreters that import audiocraft, an environment built
from PyPI), started with the session's first test by the `background` fixture of `tests/conftest.py`, only for the
selected tests, and read by those tests when they run. This module imports nothing heavy, so that a background
run may be one of the test modules run as a script."""
import os
from pathlib import Path
import subprocess
import sys
import typing as tp

REPO = Path(__file__).resolve().parents[1]

#: Background runs: name -> (test that reads it, function of the run folder giving the arguments).
BACKGROUND_RUNS: tp.Dict[str, tp.Tuple[str, tp.Callable[[Path], tp.List[str]]]] = {}


def background_run(name: str, test: str) -> tp.Callable:
    """Register `fn(folder) -> argv` (the arguments of `python`) as the background run `name`, read by the test
    function `test`."""
    def register(fn: tp.Callable[[Path], tp.List[str]]) -> tp.Callable[[Path], tp.List[str]]:
        BACKGROUND_RUNS[name] = (test, fn)
        return fn
    return register


class Background:
    """Subprocesses started early, read later by name."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.procs: tp.Dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: tp.Sequence[str]) -> None:
        if name in self.procs:
            return
        env = {**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': '1'}
        self.procs[name] = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def result(self, name: str, timeout: float = 600) -> tp.Tuple[int, str, str]:
        """`(returncode, stdout, stderr)` of a started run, waiting for it."""
        stdout, stderr = self.procs[name].communicate(timeout=timeout)
        return self.procs[name].returncode, stdout, stderr

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
