"""Start-up of the codec's command line: wall time of `bandsplit-codec` commands, each in a fresh process.

The commands, as a user runs them (the installed console script), alternated over `--repeats` rounds after one
warm-up round that fills the operating system's file cache; medians:

- `--help`;
- `info FILE.bsac` on a file of `--seconds` seconds;
- `compress` of a WAV file of `--seconds` seconds with `--threads` threads: start, imports, model loading,
  coding and writing, the whole process;
- `decompress` of the file `compress` wrote;
- both again with `--reference` (the PyTorch model loaded through audiocraft instead of the deployment).

The checkpoint is an export of the default-width band-split model with random weights (codebooks
k-means-initialised): loading and coding time do not depend on training. Its deployment
(`bandsplit_audiocraft.deploy`) is made once before the timed rounds, in a cache of the benchmark's own, as
the first `compress` of a checkpoint makes it. Targets: `--help` and `info` under 1 s, `compress` of 10 s
under 5 s.

Usage::

    python bench/startup.py                              # default width, 10 s, writes the JSON
    python bench/startup.py --quick --out /tmp/x.json    # tiny model, 1 s, one round, for the tests
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
import typing as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import command_line, machine, write_result  # noqa: E402

COMMANDS = ('help', 'info', 'compress', 'decompress', 'compress --reference', 'decompress --reference')
TARGETS = {'help': 1.0, 'info': 1.0, 'compress': 5.0}  # seconds


def prepare(folder: Path, solver: str, seconds: float) -> tp.Dict[str, Path]:
    """The checkpoint, a WAV file of `seconds` of music-like audio and its `.bsac` file, in `folder`."""
    import torch

    from bandsplit_audiocraft.codec import cli
    from bandsplit_audiocraft.configs import model_config
    from bandsplit_audiocraft.data.audio_io import write_wav
    from bandsplit_audiocraft.export import export_model
    from bench.inference_speed import SAMPLE_RATE, build

    checkpoint = export_model(build('bandsplit', solver, 'cpu'), model_config(solver=solver), folder / 'model.th')
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = sum(torch.sin(2 * torch.pi * f * t) / (i + 1) for i, f in enumerate((220.0, 440.0, 1320.0, 5000.0)))
    wav = write_wav(folder / 'clip.wav', (0.2 * tones + 0.01 * torch.randn_like(t))[None], SAMPLE_RATE)
    stream = folder / 'clip.bsac'
    if cli.main(['compress', str(wav), str(stream), '--checkpoint', str(checkpoint), '--device', 'cpu', '-q']):
        raise RuntimeError("preparing the .bsac file failed")
    return {'checkpoint': checkpoint, 'wav': wav, 'stream': stream}


def command(name: str, files: tp.Dict[str, Path], folder: Path, threads: int) -> tp.List[str]:
    script = Path(sys.executable).parent / 'bandsplit-codec'
    model = ['--checkpoint', str(files['checkpoint']), '--device', 'cpu', '--threads', str(threads), '-q',
             '--overwrite']
    return {
        'help': [str(script), '--help'],
        'info': [str(script), 'info', str(files['stream'])],
        'compress': [str(script), 'compress', str(files['wav']), str(folder / 'out.bsac'), *model],
        'decompress': [str(script), 'decompress', str(files['stream']), str(folder / 'out.wav'), *model],
        'compress --reference': [str(script), 'compress', str(files['wav']), str(folder / 'ref.bsac'), *model,
                                 '--reference'],
        'decompress --reference': [str(script), 'decompress', str(files['stream']), str(folder / 'ref.wav'), *model,
                                   '--reference'],
    }[name]


def timed(cmd: tp.List[str], threads: int) -> float:
    """Wall seconds of `cmd` in a fresh process; raises with its stderr if it fails."""
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads), 'PYTHONWARNINGS': 'ignore'}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited with {proc.returncode}: {proc.stderr[-1000:]}")
    return wall


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--solver', default='bandsplit_codec', help="model size preset (bandsplit_codec/tiny: tiny)")
    parser.add_argument('--seconds', type=float, default=10.0, help="duration of the coded file")
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--quick', action='store_true',
                        help="tiny model, 1 s, one round, no warm-up, no --reference commands (tests)")
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'startup.json'))
    args = parser.parse_args(argv)
    if args.quick:
        args.solver, args.seconds, args.repeats = 'bandsplit_codec/tiny', 1.0, 1
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ['BANDSPLIT_CACHE'] = str(folder / 'cache')  # for `prepare` and the timed commands
        files = prepare(folder, args.solver, args.seconds)
        names = [name for name in COMMANDS if not (args.quick and name.endswith('--reference'))]
        runs: tp.Dict[str, tp.List[float]] = {name: [] for name in names}
        first = 1 if args.quick else 0  # round 0 warms the file cache and is not kept
        for round_ in range(first, args.repeats + 1):
            for name in names:
                wall = timed(command(name, files, folder, args.threads), args.threads)
                if round_:
                    runs[name].append(wall)
    commands = {name: {'median_s': statistics.median(r), 'runs': r} for name, r in runs.items()}
    targets = {f'{name} < {limit:g} s': {'median_s': commands[name]['median_s'],
                                         'met': commands[name]['median_s'] < limit}
               for name, limit in TARGETS.items()}
    for name, figures in commands.items():
        print(f"{name:22s} median {figures['median_s']:.2f} s over {len(figures['runs'])} fresh processes")
    result = {'command': command_line('bench/startup.py', argv), 'machine': machine(), 'threads': args.threads,
              'solver': args.solver, 'seconds': args.seconds, 'commands': commands, 'targets': targets,
              'wall_seconds': time.time() - start}
    write_result(args.out, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
