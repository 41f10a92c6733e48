"""`python -m dora run` from the repository root: started in the background or run to its end.

A run is started in a process group of its own, so that `kill` stops it together with the processes it
starts (distributed workers, data loaders). Its output goes to this process's, or is appended to a log file
whose end a failure quotes.
"""

import os
from pathlib import Path
import signal
import subprocess
import sys
import typing as tp

from . import PathLike

REPO = Path(__file__).resolve().parents[2]
LOG_TAIL = 3000  # characters of the log quoted when a run fails


class DoraRunError(RuntimeError):
    """A `dora run` exited with an error."""


class DoraRun(subprocess.Popen):
    """A started `dora run`; `log` is the file that receives its output, None when it goes to ours."""
    log: tp.Optional[Path] = None


def start(overrides: tp.Sequence[str], *, dora_dir: tp.Optional[PathLike] = None,
          env: tp.Optional[tp.Mapping[str, tp.Optional[str]]] = None, log: tp.Optional[PathLike] = None) -> DoraRun:
    """Start `python -m dora run *overrides` from the repository root.

    Args:
        overrides: dora options and hydra overrides, e.g. `['solver=bandsplit_codec/tiny']`.
        dora_dir: folder of the experiments (`$AUDIOCRAFT_DORA_DIR` of the run); default: ours.
        env: changes to our environment for the run; None removes a variable.
        log: file the run's stdout and stderr are appended to (its folder is created); default: ours.
    """
    environ = dict(os.environ)
    if dora_dir is not None:
        environ['AUDIOCRAFT_DORA_DIR'] = str(dora_dir)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    out = None
    if log is not None:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        out = open(log, 'ab')
    try:
        proc = DoraRun([sys.executable, '-m', 'dora', 'run', *overrides], cwd=REPO, env=environ, stdout=out,
                       stderr=None if out is None else subprocess.STDOUT, start_new_session=True)
    finally:
        if out is not None:
            out.close()
    proc.log = None if log is None else Path(log)
    return proc


def kill(proc: DoraRun) -> None:
    """Kill the run and every process of its group, and wait for it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole group is gone already
        pass
    proc.wait()


def finish(proc: DoraRun, timeout: tp.Optional[float] = None) -> None:
    """Wait for the run to end; kill its group if the wait is cut short (timeout, interrupt).

    Raises:
        DoraRunError: the run failed; the message quotes the end of its log.
        subprocess.TimeoutExpired: it did not end within `timeout` seconds.
    """
    try:
        proc.wait(timeout)
    except BaseException:
        kill(proc)
        raise
    if proc.returncode != 0:
        command = ' '.join(str(arg) for arg in proc.args[2:])  # type: ignore[index]  # dora run ...
        where = "its output is above"
        if proc.log is not None:
            tail = proc.log.read_bytes()[-LOG_TAIL:].decode(errors='replace')
            where = f"the end of its log {proc.log}:\n{tail}"
        raise DoraRunError(f"`{command}` failed (exit {proc.returncode}); {where}")


def dora_run(overrides: tp.Sequence[str], *, dora_dir: tp.Optional[PathLike] = None,
             env: tp.Optional[tp.Mapping[str, tp.Optional[str]]] = None, log: tp.Optional[PathLike] = None,
             timeout: tp.Optional[float] = None) -> None:
    """Run `python -m dora run *overrides` to its end (`start` and `finish`)."""
    finish(start(overrides, dora_dir=dora_dir, env=env, log=log), timeout)
