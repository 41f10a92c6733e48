"""`python -m dora run` from the repository root: started in the background, run to its end, or several run
at a time; and the folder of the experiment a list of overrides defines.

A run is started in a process group of its own, so that `kill` stops it together with the processes it
starts (distributed workers, data loaders). Its output goes to this process's, or is appended to a log file
whose end a failure quotes.
"""

import os
from pathlib import Path
import shlex
import signal
import subprocess
import sys
import time
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


def run_all(runs: tp.Mapping[str, tp.Sequence[str]], jobs: int, *, dora_dir: tp.Optional[PathLike] = None,
            env: tp.Optional[tp.Mapping[str, tp.Optional[str]]] = None,
            logs: tp.Optional[tp.Mapping[str, tp.Optional[PathLike]]] = None,
            poll: float = 1.0, timeout: tp.Optional[float] = None) -> tp.Dict[str, float]:
    """Run every experiment of `runs` (name -> overrides) with `dora run`, `jobs` at a time, in their order.

    A failed run does not stop the others; an interrupt (or any error of ours) kills those still running.

    Args:
        runs: the experiments, by name.
        jobs: how many run at once.
        dora_dir, env: as for `start`, for every run.
        logs: log file of each run (`start`'s `log`); a run not in it writes to our output.
        poll: seconds between two looks at the running experiments.
        timeout: seconds a run may take; one still running then is killed and counts as failed.
    Returns:
        The wall seconds each run took, by name.
    Raises:
        DoraRunError: Some run failed (raised once all have ended); the message quotes the end of its log.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    pending = list(runs.items())
    running: tp.Dict[str, tp.Tuple[DoraRun, float]] = {}
    seconds: tp.Dict[str, float] = {}
    failures: tp.List[str] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                name, overrides = pending.pop(0)
                log = (logs or {}).get(name)
                print(f"training {name}: python -m dora run {shlex.join(overrides)}"
                      + (f"  (log: {log})" if log is not None else ''), flush=True)
                running[name] = (start(overrides, dora_dir=dora_dir, env=env, log=log), time.time())
            time.sleep(poll)
            for name, (proc, began) in list(running.items()):
                if proc.poll() is None:
                    if timeout is None or time.time() - began <= timeout:
                        continue
                    kill(proc)
                    del running[name]
                    failures.append(f"{name}: killed after {timeout:g} s, its time limit"
                                    + (f"; its log: {proc.log}" if proc.log else ''))
                    print(f"training {name} killed after {timeout:g} s", flush=True)
                    continue
                del running[name]
                try:
                    finish(proc)
                except DoraRunError as error:
                    failures.append(f"{name}: {error}")
                    print(f"training {name} failed" + (f"; its log: {proc.log}" if proc.log else ''), flush=True)
                    continue
                seconds[name] = round(time.time() - began, 1)
                print(f"{name}: trained in {seconds[name]:.0f} s", flush=True)
    except BaseException:
        for proc, _ in running.values():
            kill(proc)
        raise
    if failures:
        raise DoraRunError("Training failed for " + "; ".join(failures))
    return seconds


def experiment_folder(overrides: tp.Sequence[str], dora_dir: tp.Optional[PathLike] = None) -> Path:
    """The folder of the experiment that `overrides` define: under `dora_dir` when given, else under the folder
    of our experiments (`$AUDIOCRAFT_DORA_DIR` when the training module was first imported)."""
    from ..train import main
    xp = main.get_xp(list(overrides))
    if dora_dir is None:
        return Path(xp.folder)
    return Path(dora_dir) / xp.dora.xps / xp.sig
