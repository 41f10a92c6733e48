"""Helpers shared by test modules: tiny models, test signals, background runs, `dora run`, `dora grid` tables,
m4a files. Fixtures stay in the conftest files."""
import math
from pathlib import Path
import re
import subprocess
import typing as tp

import numpy as np
import torch

from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.models import BandSplitCompressionModel, get_bandsplit_model
from bandsplit_audiocraft.utils.dora import REPO, DoraRun, experiment_folder, finish, run_all, start

__all__ = ['ANSI', 'BACKGROUND_RUNS', 'MODEL_PRESETS', 'Started', 'background_run', 'build_tiny', 'dora_run',
           'finish', 'make_signal', 'single_xp', 'table_rows', 'train_together', 'write_m4a', 'write_tracks']

# ---- models and signals ----------------------------------------------------------------------------------------

MODEL_PRESETS: tp.Dict[str, tp.List[str]] = {
    'two_band': [],
    'single': ['model=bandsplit/single_32k'],
    'three_band': ['model=bandsplit/three_band', 'sample_rate=48000'],
}


def build_tiny(preset: str = 'two_band', *overrides: str, seed: int = 0) -> BandSplitCompressionModel:
    torch.manual_seed(seed)
    return get_bandsplit_model(model_config([*MODEL_PRESETS[preset], *overrides])).eval()


def make_signal(seconds: float, sample_rate: int = 32000, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """A reproducible `[C, T]` signal: a gliding tone plus a little noise, different on each channel."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    rows = []
    for c in range(channels):
        f0 = 220 * (c + 1)
        tone = 0.3 * torch.sin(2 * math.pi * f0 * t * (1 + 0.05 * torch.sin(2 * math.pi * 0.5 * t)))
        rows.append(tone + 0.03 * torch.randn(t.shape, generator=g))
    return torch.stack(rows)


def write_m4a(path, wav: np.ndarray, sr: int) -> None:
    """Encode a mono float signal `[T]` to AAC in an m4a container with PyAV (soundfile cannot read it)."""
    import av

    with av.open(str(path), 'w') as container:
        stream = container.add_stream('aac', rate=sr, layout='mono')
        for start in range(0, len(wav), 1024):
            frame = av.AudioFrame.from_ndarray(wav[None, start:start + 1024].astype(np.float32), format='fltp',
                                               layout='mono')
            frame.sample_rate, frame.pts = sr, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def write_tracks(folder: Path, count: int, seconds: float = 3.0, sample_rate: int = 44100) -> None:
    """Stereo 44.1 kHz recordings-like tracks (harmonic tones with noise) in FLAC, as a music folder holds."""
    import soundfile
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(count):
        f0 = 110 * 2 ** (i / 3)
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 40) if f0 * k < 20000)
        wav = 0.1 * tone + 0.02 * rng.standard_normal(t.shape)
        stereo = np.stack([wav, np.roll(wav, 17)], axis=1).astype(np.float32)
        (folder / f'disc{i % 2}').mkdir(parents=True, exist_ok=True)
        soundfile.write(folder / f'disc{i % 2}' / f'track{i}.flac', stereo, sample_rate)


# ---- background runs of the codec tests (started by the `background` fixture of tests/codec) ---------------------

class Started:
    """Subprocesses started together and read later by name, so that their slow imports overlap with one another and
    with the tests; `stop` kills those still running (the ones of deselected tests)."""

    def __init__(self) -> None:
        self.procs: tp.Dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: tp.Sequence[str], cwd: tp.Union[str, Path] = REPO,
              env: tp.Optional[tp.Mapping[str, str]] = None) -> None:
        """Start `argv` as `name`, unless a process of that name was started already."""
        if name not in self.procs:
            self.procs[name] = subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env),
                                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def result(self, name: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """What the process `name` printed and its exit status, once it has ended."""
        proc = self.procs[name]
        stdout, stderr = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


#: Background runs: name -> (test that reads it, function of the run folder giving the arguments).
BACKGROUND_RUNS: tp.Dict[str, tp.Tuple[str, tp.Callable[[Path], tp.List[str]]]] = {}


def background_run(name: str, test: str) -> tp.Callable:
    """Register `fn(folder) -> argv` as the background run `name`, read by the test function `test`."""
    def register(fn: tp.Callable[[Path], tp.List[str]]) -> tp.Callable[[Path], tp.List[str]]:
        BACKGROUND_RUNS[name] = (test, fn)
        return fn
    return register


# ---- dora ----------------------------------------------------------------------------------------------------

def dora_run(dora_dir: Path, overrides: tp.Sequence[str]) -> DoraRun:
    """Start `dora run` with experiments under `dora_dir` and its log in `<dora_dir>.log`, without `USER` in
    its environment (it must work where USER is unset); `finish` waits for it, killing it on timeout."""
    return start(overrides, dora_dir=dora_dir, env={'USER': None}, log=dora_dir.with_name(f'{dora_dir.name}.log'))


def train_together(dora_dir: Path, runs: tp.Mapping[str, tp.Sequence[str]], jobs: int = 2,
                   timeout: float = 1200) -> tp.Dict[str, Path]:
    """Run every experiment of `runs` (name -> overrides) with `dora run`, `jobs` at a time on one thread each,
    under `dora_dir` (logs `<dora_dir>/<name>.log`, `USER` unset as in `dora_run`), each killed after `timeout`
    seconds; their folders by name."""
    runs = {name: [*overrides, 'num_threads=1'] for name, overrides in runs.items()}
    run_all(runs, jobs, dora_dir=dora_dir, env={'USER': None}, logs={name: dora_dir / f'{name}.log' for name in runs},
            timeout=timeout)
    return {name: experiment_folder(overrides, dora_dir) for name, overrides in runs.items()}


def single_xp(dora_dir: Path) -> Path:
    xps = [p for p in (dora_dir / 'xps').iterdir() if p.is_dir()]
    assert len(xps) == 1, xps
    return xps[0]


ANSI = re.compile(r'\x1b\[[0-9;]*m')


def table_rows(table: str) -> tp.List[tp.Tuple[str, str, str]]:
    """(name, state, signature) of every XP of a `dora grid` table."""
    rows = []
    for line in table.splitlines():
        match = re.match(r'^\s*(\d+)\s+(.*?)\s+(N/A|[A-Z]{3})\s+([0-9a-f]{8})\s', line)
        if match:
            rows.append((match.group(2).strip(), match.group(3), match.group(4)))
    return rows
