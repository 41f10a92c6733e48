"""Peak memory and time of the codec's command line on long inputs: 1 minute against 10 minutes.

Every run is a fresh interpreter that loads the checkpoint, then runs `cli.main(['compress', ...])` on a
synthetic WAV file (streamed from disk window by window) and `cli.main(['decompress', ...])` on the result
(streamed to disk). It reports the peak resident memory (`VmHWM` of /proc/self/status) of the whole process,
the peak above the RSS measured after loading the model (the memory that coding needs), and wall times.
The target is a 10 min / 1 min ratio of at most 1.5: chunked coding needs memory for one batch of windows,
whatever the duration. `--unchunked` adds runs with one window per file (`--chunk-seconds` above the
duration), the memory a whole-signal pass needs, for comparison.

The tiny model of the tests is used unless `--checkpoint` gives an exported model. The command line runs the
checkpoint's deployment (`bandsplit_audiocraft.deploy`), made once before the measured runs.

Peak memory above the baseline varies from run to run (glibc's malloc raises its mmap threshold after
freeing large blocks, so activations come from a heap whose layout depends on the order of frees) and is
reached within the first few batches, whatever the duration; a 1-minute file runs only two batches of windows
at the default settings, which may stay below it. `--durations 60 600 1200 2400` shows it.

Usage::

    python bench/memory_long_audio.py                       # 1 and 10 minutes, tiny model
    python bench/memory_long_audio.py --reduced             # 30 s and 5 minutes
    python bench/memory_long_audio.py --checkpoint model.th --out bench/results/real.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time
import typing as tp

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import write_result  # noqa: E402

SAMPLE_RATE = 32000

EXPORT_TINY = r'''
import sys
import torch
from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.export import export_model
from bandsplit_audiocraft.models import get_bandsplit_model
torch.manual_seed(0)
cfg = model_config()
model = get_bandsplit_model(cfg).eval()
with torch.no_grad():
    model(torch.randn(2, 1, 32000) * 0.1)  # initialises the codebooks (k-means)
export_model(model, cfg, sys.argv[1])
'''

RUN = r'''
import json, sys, time
args = json.loads(sys.argv[1])

def status(key):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ':')) * 1024

def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False

import torch
from bandsplit_audiocraft.codec import cli, model_io
torch.set_num_threads(args['threads'])
codec = model_io.load_codec(args['checkpoint'], 'cpu')
model_io.load_codec = lambda *a, **k: codec  # the CLI below reuses the loaded model
baseline = status('VmRSS')
loading_peak = status('VmHWM')
common = ['--checkpoint', args['checkpoint'], '--device', 'cpu', '-q', '--overwrite',
          '--chunk-seconds', str(args['chunk_seconds']), '--context-seconds', str(args['context_seconds']),
          '--batch-size', str(args['batch_size'])]
result = {'baseline_rss': baseline, 'loading_peak_rss': loading_peak}
for step, argv in [('compress', ['compress', args['wav'], args['bsac']]),
                   ('decompress', ['decompress', args['bsac'], args['out']])]:
    resettable = reset_peak()
    start = time.perf_counter()
    code = cli.main([*argv, *common])
    result[step] = {'seconds': time.perf_counter() - start, 'exit_code': code,
                    'peak_rss': status('VmHWM') if resettable else None}
reset_peak()
result['final_rss'] = status('VmRSS')
print(json.dumps(result))
'''


def write_synthetic_wav(path: Path, seconds: float, block_seconds: float = 10.0) -> None:
    """A tone sweep plus noise, written block by block (the parent never holds the whole signal)."""
    rng = np.random.default_rng(0)
    total = int(seconds * SAMPLE_RATE)
    block = int(block_seconds * SAMPLE_RATE)
    with soundfile.SoundFile(path, 'w', samplerate=SAMPLE_RATE, channels=1, subtype='PCM_16') as f:
        for start in range(0, total, block):
            t = np.arange(start, min(total, start + block)) / SAMPLE_RATE
            x = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.05 * np.sin(2 * np.pi * 0.1 * t)))
            f.write((x + 0.03 * rng.standard_normal(t.shape)).astype(np.float32))


def python_env(threads: int) -> dict[str, str]:
    return {**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': str(threads), 'PYTHONPATH': str(REPO)}


def run_once(checkpoint: Path, wav: Path, folder: Path, options: dict[str, tp.Any]) -> dict[str, tp.Any]:
    """One fresh process: load, compress, decompress; returns what it measured plus the whole process's peak."""
    args = {'checkpoint': str(checkpoint), 'wav': str(wav), 'bsac': str(folder / 'x.bsac'),
            'out': str(folder / 'x.wav'), **options}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, '-c', RUN, json.dumps(args)], capture_output=True, text=True,
                          env=python_env(options['threads']), cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"The measured run failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result['process_seconds'] = time.perf_counter() - start
    for step in ('compress', 'decompress'):
        if result[step]['exit_code'] != 0:
            raise RuntimeError(f"{step} exited with {result[step]['exit_code']}:\n{proc.stderr[-3000:]}")
    peaks = [result[s]['peak_rss'] for s in ('compress', 'decompress') if result[s]['peak_rss'] is not None]
    result['coding_peak_rss'] = max(peaks) if peaks else None
    result['coding_peak_above_baseline'] = max(peaks) - result['baseline_rss'] if peaks else None
    return result


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkpoint', type=Path, help="exported model (default: the tiny test model)")
    parser.add_argument('--durations', type=float, nargs='+', default=[60.0, 600.0], metavar='SECONDS',
                        help="input durations in seconds; the ratio compares the last with the first "
                             "(default: 60 600)")
    parser.add_argument('--reduced', action='store_true', help="30 s and 300 s instead")
    parser.add_argument('--unchunked', action='store_true',
                        help="also measure one window per file (a whole-signal pass), for comparison")
    parser.add_argument('--chunk-seconds', type=float, default=10.0)
    parser.add_argument('--context-seconds', type=float, default=1.0)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--threads', type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results' / 'memory_long_audio.json')
    args = parser.parse_args(argv)
    durations = (30.0, 300.0) if args.reduced else tuple(sorted(args.durations))
    if len(durations) < 2:
        parser.error("give at least two durations")

    with tempfile.TemporaryDirectory(prefix='bsac-bench-') as tmp:
        folder = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = folder / 'tiny.th'
            subprocess.run([sys.executable, '-c', EXPORT_TINY, str(checkpoint)], check=True, cwd=REPO,
                           env=python_env(args.threads), capture_output=True)
        # The checkpoint's deployment, which the command line runs, is made once here (in a cache of this run's
        # own) rather than inside the first measured process.
        os.environ['BANDSPLIT_CACHE'] = str(folder / 'cache')
        subprocess.run([sys.executable, '-c', 'import sys; from bandsplit_audiocraft.deploy import deployment; '
                        'deployment(sys.argv[1])', str(checkpoint)], check=True, cwd=REPO,
                       env=python_env(args.threads), capture_output=True)
        modes = [('chunked', args.chunk_seconds)]
        if args.unchunked:
            modes.append(('unchunked', 2 * max(durations) + 60))
        runs = []
        for seconds in durations:
            wav = folder / f'input_{int(seconds)}s.wav'
            write_synthetic_wav(wav, seconds)
            for mode, chunk in modes:
                options = {'chunk_seconds': chunk, 'context_seconds': args.context_seconds,
                           'batch_size': args.batch_size, 'threads': args.threads}
                result = run_once(checkpoint, wav, folder, options)
                result.update(mode=mode, duration=seconds, options=options,
                              real_time_factor=(result['compress']['seconds'] + result['decompress']['seconds'])
                              / seconds)
                runs.append(result)
                print(f"{mode:>9} {seconds:6.0f} s: peak RSS {result['coding_peak_rss'] / 2**20:8.1f} MiB "
                      f"({result['coding_peak_above_baseline'] / 2**20:7.1f} MiB above the "
                      f"{result['baseline_rss'] / 2**20:.1f} MiB after loading), compress "
                      f"{result['compress']['seconds']:6.1f} s, decompress {result['decompress']['seconds']:6.1f} s",
                      flush=True)
            wav.unlink()

    ratios: dict[str, dict[str, dict[str, float]]] = {}
    for mode, _ in modes:
        by_duration = {r['duration']: r for r in runs if r['mode'] == mode}
        short = by_duration[durations[0]]
        ratios[mode] = {}
        for seconds in durations[1:]:
            long = by_duration[seconds]
            ratio = {'peak_rss': long['coding_peak_rss'] / short['coding_peak_rss'],
                     'peak_above_baseline': long['coding_peak_above_baseline']
                     / max(short['coding_peak_above_baseline'], 1)}
            ratios[mode][f'{seconds:g}s/{durations[0]:g}s'] = ratio
            print(f"{mode}: {seconds:.0f} s / {durations[0]:.0f} s peak RSS ratio {ratio['peak_rss']:.3f} "
                  f"(above baseline: {ratio['peak_above_baseline']:.3f}); target <= 1.5")
    report = {'checkpoint': str(args.checkpoint) if args.checkpoint else 'tiny test model',
              'durations': list(durations), 'runs': runs, 'ratios': ratios, 'target_ratio': 1.5,
              'machine': {'platform': platform.platform(), 'cpus': os.cpu_count(), 'python': sys.version.split()[0]}}
    write_result(args.out, report)
    return 0 if all(r['peak_rss'] <= 1.5 for r in ratios['chunked'].values()) else 1


if __name__ == '__main__':
    sys.exit(main())
