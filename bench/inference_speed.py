"""Inference speed and memory: the band-split codec against a single-branch codec and stock EnCodec.

Four programs, all at 32 kHz, 50 Hz frames, 8 codebooks of 1024 entries (4 kbps), same SEANet width:

- `bandsplit`: the band-split codec (16 kHz branch + 32 kHz residual branch, 4 + 4 codebooks), the PyTorch
  model (`CompressionModel.get_pretrained`'s, and the command line's with `--reference`);
- `deployed`: the same model deployed (`bandsplit_audiocraft.deploy`: its branches as ONNX graphs run by ONNX
  Runtime, the command line's default on the CPU; CPU only);
- `bandsplit_bf16`: the same PyTorch model in its approximate bfloat16 mode (`set_precision('bfloat16')`, the
  command line's `--precision bfloat16`): encoders and decoders under `torch.autocast` in bfloat16;
- `seanet_32k`: the single-branch baseline, run through the same code (`BandSplitCompressionModel`);
- `encodec`: audiocraft's stock `EncodecModel` built by `audiocraft.models.builders.get_compression_model`
  from the same SEANet/RVQ settings, used as users run it (`model.encode(x)`, `model.decode(codes)`).

Models have random weights with k-means-initialised codebooks: speed does not depend on training.

Measured, on CPU with `--threads` threads (or on `--device cuda`):

- 10 s of audio, batch 1 and batch `--batch`: encode, decode and round-trip wall time, in one process,
  the programs alternated (A B C A B C ...) over `--repeats` rounds after one warm-up each; medians. The real-
  time factor is audio seconds (times batch) per wall second: 10x means ten times faster than real time.
- 10 min of audio, batch 1, one fresh process per program and round (alternated), which reports its time and
  the peak resident memory above its state after loading the model (`VmHWM` of /proc/self/status). Our models
  code long audio in chunks (`bandsplit_audiocraft.codec.streaming`); stock EnCodec codes the whole signal in
  one call, as its API does, under a `--memory-cap-gb` address-space limit so that running out of memory is
  reported instead of taking the machine down.

Ratios are bandsplit / seanet_32k (target <= 1.5: the 16 kHz branch costs about half the 32 kHz one) and
bandsplit / encodec (target <= 1.0), for every band-split program, on round-trip time; and the band-split
real-time factors on 2 threads (target >= 10). The round trip is `encode` then `decode` (compressing then
restoring a file); the 10 s cases also time one call that encodes and decodes: the forward pass `model(x)`
(encode, quantize and decode at once) of the float32 PyTorch programs, `round_trip(x)` of the deployed codec and
the bfloat16 mode. The difference matters for the band-split codec: its encoder decodes the low branch to form the
residual the high branch codes, and a separate `decode` decodes it again.

Usage::

    python bench/inference_speed.py                       # default width, 2 threads, writes the JSON
    python bench/inference_speed.py --quick --out /tmp/x.json   # tiny models, 1 s and 3 s, for the tests
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time
import typing as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import command_line, machine, write_result  # noqa: E402

PROGRAMS = ('bandsplit', 'deployed', 'bandsplit_bf16', 'seanet_32k', 'encodec')
BANDSPLIT = ('bandsplit', 'deployed', 'bandsplit_bf16')  # the programs whose ratios to the others are the targets
SAMPLE_RATE = 32000


def programs(device: str) -> tp.Tuple[str, ...]:
    """The programs that run on `device` (the deployed codec runs on the CPU)."""
    return PROGRAMS if device == 'cpu' else tuple(p for p in PROGRAMS if p != 'deployed')


def build(program: str, solver: str, device: str) -> tp.Any:
    """The model of `program`, in eval mode, codebooks initialised."""
    import torch
    if program == 'deployed':
        import atexit
        import shutil
        import tempfile

        from bandsplit_audiocraft.deploy import DeployedModel, export_deployment
        folder = Path(tempfile.mkdtemp(prefix='bench-deployment-'))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        export_deployment(build('bandsplit', solver, device), folder / 'deployment', bytes(16))
        return DeployedModel.load(folder / 'deployment', threads=torch.get_num_threads())
    if program == 'bandsplit_bf16':
        model = build('bandsplit', solver, device)
        model.set_precision('bfloat16')
        return model

    from bandsplit_audiocraft.baselines import COMPARED
    from bandsplit_audiocraft.configs import model_config
    from bandsplit_audiocraft.models import get_bandsplit_model
    torch.manual_seed(0)
    if program == 'encodec':
        from audiocraft.models import builders
        from omegaconf import OmegaConf
        cfg = model_config(COMPARED['seanet_32k'], solver=solver)  # the same SEANet / RVQ settings
        seanet = OmegaConf.to_container(cfg.seanet, resolve=True)
        seanet['ratios'] = list(cfg.bandsplit.branches.high.seanet.ratios)
        rvq = {**OmegaConf.to_container(cfg.rvq, resolve=True), 'n_q': 8}
        stock = OmegaConf.create({
            'compression_model': 'encodec', 'device': 'cpu', 'seanet': seanet, 'rvq': rvq,
            'encodec': {'autoencoder': 'seanet', 'quantizer': 'rvq', 'sample_rate': SAMPLE_RATE, 'channels': 1,
                        'causal': False, 'renormalize': False}})
        model = builders.get_compression_model(stock)
    else:
        model = get_bandsplit_model(model_config(COMPARED[program], solver=solver))
    model = model.to(device).eval()
    with torch.no_grad():
        model(torch.randn(2, 1, SAMPLE_RATE, device=device) * 0.1)  # k-means initialisation of the codebooks
    return model


def sync(device: str) -> None:
    if device.startswith('cuda'):
        import torch
        torch.cuda.synchronize()


def code_whole(model: tp.Any, x: tp.Any, device: str) -> tp.Tuple[float, float]:
    """(encode seconds, decode seconds) of one whole-signal pass."""
    import torch
    with torch.inference_mode():
        sync(device)
        start = time.perf_counter()
        codes, scale = model.encode(x)
        sync(device)
        encoded = time.perf_counter()
        model.decode(codes, scale)
        sync(device)
        return encoded - start, time.perf_counter() - encoded


def code_one_pass(model: tp.Any, x: tp.Any, device: str) -> float:
    """Seconds of one call that both encodes and decodes: `model(x)` for the float32 PyTorch programs (encode,
    quantize and decode in one forward pass, as in training and evaluation), `round_trip(x)` for the deployed codec
    and the bfloat16 mode (which the training forward pass does not use).

    The band-split encoder must decode the low branch to form the residual; a separate `decode` call decodes it
    again, which one call does not.
    """
    import torch

    from bandsplit_audiocraft.precision import REFERENCE
    exact = isinstance(model, torch.nn.Module) and getattr(model, 'precision', REFERENCE) == REFERENCE
    call = model if exact else model.round_trip
    with torch.inference_mode():
        sync(device)
        start = time.perf_counter()
        call(x)
        sync(device)
        return time.perf_counter() - start


def code_long(program: str, model: tp.Any, x: tp.Any, device: str) -> tp.Tuple[float, float]:
    """(encode seconds, decode seconds) of a long signal: chunked for our models, whole for stock EnCodec."""
    if program == 'encodec':
        return code_whole(model, x, device)
    from bandsplit_audiocraft.codec.streaming import decode_long, encode_long
    sync(device)
    start = time.perf_counter()
    codes = encode_long(model, x[0])
    sync(device)
    encoded = time.perf_counter()
    decode_long(model, codes, x.shape[-1])
    sync(device)
    return encoded - start, time.perf_counter() - encoded


def _rss(key: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(key + ':'):
            return int(line.split()[1]) * 1024
    return 0


def worker(args: argparse.Namespace) -> int:
    """One program, one long signal, in this fresh process: print time and peak memory as JSON."""
    import resource

    import torch
    torch.set_num_threads(args.threads)
    model = build(args.worker, args.solver, args.device)
    code_whole(model, torch.randn(1, 1, SAMPLE_RATE, device=args.device) * 0.1, args.device)  # warm-up
    x = torch.randn(1, 1, int(args.seconds * SAMPLE_RATE), device=args.device) * 0.1
    if args.memory_cap_gb:
        cap = int(args.memory_cap_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    Path('/proc/self/clear_refs').write_text('5')  # reset VmHWM to the current RSS
    baseline = _rss('VmRSS')
    result: tp.Dict[str, tp.Any] = {'program': args.worker, 'seconds': args.seconds, 'baseline_rss': baseline}
    try:
        encode_s, decode_s = code_long(args.worker, model, x, args.device)
        result.update(encode_s=encode_s, decode_s=decode_s, peak_rss_above_baseline=_rss('VmHWM') - baseline)
    except (MemoryError, RuntimeError) as err:  # torch reports a failed allocation as a RuntimeError
        result.update(error=f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
    print('RESULT ' + json.dumps(result), flush=True)
    return 0


def run_worker(program: str, seconds: float, args: argparse.Namespace) -> tp.Dict[str, tp.Any]:
    cmd = [sys.executable, __file__, '--worker', program, '--seconds', str(seconds), '--threads', str(args.threads),
           '--solver', args.solver, '--device', args.device, '--memory-cap-gb', str(args.memory_cap_gb)]
    env = {**os.environ, 'OMP_NUM_THREADS': str(args.threads), 'MKL_NUM_THREADS': str(args.threads)}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    for line in out.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])
    return {'program': program, 'seconds': seconds, 'error': f"exit {out.returncode}: {out.stderr[-500:]}"}


def rtf(audio_seconds: float, wall: float) -> float:
    return audio_seconds / wall if wall > 0 else float('inf')


def measure_short(args: argparse.Namespace) -> tp.Dict[str, tp.Any]:
    """10 s cases in this process, programs alternated, medians."""
    import torch
    torch.set_num_threads(args.threads)
    names = programs(args.device)
    models = {p: build(p, args.solver, args.device) for p in names}
    cases: tp.Dict[str, tp.Any] = {}
    for batch in sorted({1, args.batch}):
        x = torch.randn(batch, 1, int(args.short_seconds * SAMPLE_RATE), device=args.device) * 0.1
        times: tp.Dict[str, tp.List[tp.Tuple[float, float]]] = {p: [] for p in names}
        one_pass: tp.Dict[str, tp.List[float]] = {p: [] for p in names}
        for p in names:
            code_whole(models[p], x, args.device)  # warm-up
            code_one_pass(models[p], x, args.device)
        for _ in range(args.repeats):
            for p in names:
                times[p].append(code_whole(models[p], x, args.device))
                one_pass[p].append(code_one_pass(models[p], x, args.device))
        audio = args.short_seconds * batch
        per_program = {}
        for p, runs in times.items():
            enc = statistics.median(t[0] for t in runs)
            dec = statistics.median(t[0] + t[1] for t in runs) - enc
            trip = statistics.median(t[0] + t[1] for t in runs)
            per_program[p] = {'encode_s': enc, 'decode_s': dec, 'round_trip_s': trip,
                              'encode_rtf': rtf(audio, enc), 'decode_rtf': rtf(audio, dec),
                              'round_trip_rtf': rtf(audio, trip), 'runs': runs}
            forward = statistics.median(one_pass[p])
            per_program[p].update(one_pass_s=forward, one_pass_rtf=rtf(audio, forward), one_pass_runs=one_pass[p])
        cases[f'{args.short_seconds:g}s_batch{batch}'] = {
            'seconds': args.short_seconds, 'batch': batch, 'programs': per_program,
            'ratios': ratios({p: v['round_trip_s'] for p, v in per_program.items()}),
            'one_pass_ratios': ratios({p: v.get('one_pass_s') for p, v in per_program.items()})}
    return cases


def ratios(round_trip: tp.Dict[str, tp.Optional[float]]) -> tp.Dict[str, tp.Optional[float]]:
    """`<band-split program>_over_<other>` for every band-split program and the two references."""
    out: tp.Dict[str, tp.Optional[float]] = {}
    for ours in BANDSPLIT:
        for other in ('seanet_32k', 'encodec'):
            a, b = round_trip.get(ours), round_trip.get(other)
            if ours in round_trip:
                out[f'{ours}_over_{other}'] = a / b if a and b else None
    return out


def measure_long(args: argparse.Namespace) -> tp.Dict[str, tp.Any]:
    """Long signal, one fresh process per program and round, alternated."""
    rounds: tp.Dict[str, tp.List[tp.Dict[str, tp.Any]]] = {p: [] for p in programs(args.device)}
    for _ in range(args.long_repeats):
        for p in rounds:
            rounds[p].append(run_worker(p, args.long_seconds, args))
    per_program: tp.Dict[str, tp.Any] = {}
    for p, runs in rounds.items():
        ok = [r for r in runs if 'error' not in r]
        if not ok:
            per_program[p] = {'error': runs[0].get('error'), 'runs': runs}
            continue
        enc = statistics.median(r['encode_s'] for r in ok)
        trip = statistics.median(r['encode_s'] + r['decode_s'] for r in ok)
        per_program[p] = {'encode_s': enc, 'decode_s': trip - enc, 'round_trip_s': trip,
                          'round_trip_rtf': rtf(args.long_seconds, trip),
                          'peak_rss_above_baseline': max(r['peak_rss_above_baseline'] for r in ok),
                          'path': 'whole signal' if p == 'encodec' else 'chunked', 'runs': runs}
    return {f'{args.long_seconds:g}s_batch1': {
        'seconds': args.long_seconds, 'batch': 1, 'programs': per_program,
        'ratios': ratios({p: v.get('round_trip_s') for p, v in per_program.items()})}}


def print_table(cases: tp.Dict[str, tp.Any]) -> None:
    for name, case in cases.items():
        print(f"\n{name}: round trip (x real time), median")
        for p, v in case['programs'].items():
            if 'error' in v:
                print(f"  {p:14s} {v['error']}")
                continue
            mem = (f", peak {v['peak_rss_above_baseline'] / 2 ** 20:.0f} MiB above the loaded model"
                   if 'peak_rss_above_baseline' in v else '')
            one_pass = (f"; one pass {v['one_pass_s']:.3f} s = {v['one_pass_rtf']:.1f}x" if 'one_pass_s' in v else '')
            print(f"  {p:14s} encode {v['encode_s']:.3f} s, decode {v['decode_s']:.3f} s, round trip "
                  f"{v['round_trip_s']:.3f} s = {v['round_trip_rtf']:.1f}x real time{one_pass}{mem}")
        fmt = (lambda v: f"{v:.2f}" if v is not None else 'n/a')  # noqa: E731
        print("  ratios (targets: /seanet_32k <= 1.5, /encodec <= 1.0): "
              + ', '.join(f"{name.replace('_over_', '/')} {fmt(v)}" for name, v in case['ratios'].items()))
        if 'one_pass_ratios' in case:
            print("  one-pass ratios: " + ', '.join(f"{name.replace('_over_', '/')} {fmt(v)}"
                                                    for name, v in case['one_pass_ratios'].items()))


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--solver', default='bandsplit_codec', help="model size preset (bandsplit_codec/tiny: tiny)")
    parser.add_argument('--batch', type=int, default=4, help="batch of the batched 10 s case")
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--short-seconds', type=float, default=10.0)
    parser.add_argument('--long-seconds', type=float, default=600.0)
    parser.add_argument('--long-repeats', type=int, default=1)
    parser.add_argument('--memory-cap-gb', type=float, default=16.0)
    parser.add_argument('--quick', action='store_true', help="tiny models, 1 s and 3 s, 1 repeat (tests)")
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'inference_speed.json'))
    parser.add_argument('--worker', choices=PROGRAMS, help=argparse.SUPPRESS)
    parser.add_argument('--seconds', type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.solver, args.short_seconds, args.long_seconds, args.repeats, args.batch = \
            'bandsplit_codec/tiny', 1.0, 3.0, 1, 2
    start = time.time()
    cases = measure_short(args)
    cases.update(measure_long(args))
    targets: tp.Dict[str, tp.Any] = {}
    for ours in (p for p in BANDSPLIT if p in programs(args.device)):
        for other, limit in (('seanet_32k', 1.5), ('encodec', 1.0)):
            targets[f'{ours}_over_{other} <= {limit:g}'] = {n: c['ratios'][f'{ours}_over_{other}']
                                                            for n, c in cases.items()}
        targets[f'{ours} round trip >= 10x real time'] = {n: c['programs'][ours].get('round_trip_rtf')
                                                           for n, c in cases.items()}
    targets['one pass (model(x), round_trip(x)) ratios'] = {n: c['one_pass_ratios'] for n, c in cases.items()
                                                            if 'one_pass_ratios' in c}
    for ours in (p for p in BANDSPLIT if p in programs(args.device)):
        targets[f'{ours} one pass >= 10x real time'] = cases[f'{args.short_seconds:g}s_batch1']['programs'][ours][
            'one_pass_rtf']
    result = {
        'command': command_line('bench/inference_speed.py', argv),
        'machine': machine(), 'threads': args.threads, 'device': args.device, 'solver': args.solver,
        'cases': cases, 'wall_seconds': time.time() - start, 'targets': targets,
    }
    print_table(cases)
    print()
    write_result(args.out, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
