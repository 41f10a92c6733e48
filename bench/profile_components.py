"""Where the band-split codec's inference time goes: each component timed alone, on the same input.

For 10 s of audio (`--seconds`) at batch `--batch` on `--threads` CPU threads, the median over `--repeats` of:
the encoder and decoder of each branch (16 kHz and 32 kHz), the low branch's quantizer (encode, decode), the
julius resampling of the band split (32 -> 16 kHz and back), the whole `encode` and `decode`, and the same two
on a copy of the model without weight normalisation (`torch.nn.utils.remove_weight_norm`, which folds the weight
once instead of recomputing it at every call), the two copies timed alternately. The structural cost of a
separate encode and decode is then `E16 + D16 + E32` (the encoder decodes the low branch to form the residual)
plus `D16 + D32`.

The deployed form of the same model (`bandsplit_audiocraft.deploy`, the command line's default on the CPU) is
profiled too: each branch's encoder and decoder graph run alone by ONNX Runtime on the same signal, with the time
of each run split by ONNX operator type (ONNX Runtime's profiler, mean over the repeats after a warm-up), and the
split summed over a round trip's graphs (`E16 + D16 + E32` and `D16 + D32`).

Usage::

    python bench/profile_components.py                 # default width, batch 1, 2 threads
    python bench/profile_components.py --batch 4
    python bench/profile_components.py --quick --out /tmp/x.json   # tiny model, 1 s (tests)
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
import statistics
import sys
import time
import typing as tp
import warnings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def median_time(fn: tp.Callable[[], tp.Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def deployed_profile(model: tp.Any, x: tp.Any, repeats: int, threads: int) -> tp.Dict[str, tp.Any]:
    """Seconds per run of each graph of `model`'s deployment on the signal `x`, and their split by operator type;
    the same split summed over a round trip."""
    import json
    import shutil
    import tempfile

    import numpy as np
    import onnxruntime as ort

    from bandsplit_audiocraft.deploy import export_deployment
    folder = Path(tempfile.mkdtemp(prefix='profile-deployment-'))
    try:
        export_deployment(model, folder / 'deployment', bytes(16))
        frames, targets = model._targets(x)  # the signal at every branch rate, whole frames, as `encode` sees it
        graphs = {}
        for k, (branch, audio) in enumerate(zip(model.branches, targets)):
            rate = f'{branch.sample_rate // 1000}k'
            latent = np.random.default_rng(k).standard_normal((x.shape[0], branch.latent_dim, frames), np.float32)
            graphs[f'encoder_{rate}'] = (f'encoder_{k}.onnx', {'audio': audio.numpy()})
            graphs[f'decoder_{rate}'] = (f'decoder_{k}.onnx', {'latent': latent})
        profile: tp.Dict[str, tp.Any] = {}
        for name, (file, feed) in graphs.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.enable_profiling = True
            options.profile_file_prefix = str(folder / name)
            session = ort.InferenceSession(str(folder / 'deployment' / file), options,
                                           providers=['CPUExecutionProvider'])
            for _ in range(repeats + 1):  # the first run is the warm-up
                session.run(None, feed)
            events = json.loads(Path(session.end_profiling()).read_text())
            runs = sorted((e['ts'], e['ts'] + e['dur']) for e in events if e.get('name') == 'model_run')[1:]
            operators: tp.Dict[str, float] = {}
            for e in events:
                if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time') and \
                        any(start <= e['ts'] <= end for start, end in runs):
                    op = e['args']['op_name']
                    operators[op] = operators.get(op, 0.) + e['dur'] / 1e6 / len(runs)
            profile[name] = {'seconds': statistics.mean((end - start) / 1e6 for start, end in runs),
                             'operators': dict(sorted(operators.items(), key=lambda kv: -kv[1]))}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    low, high = (f'{b.sample_rate // 1000}k' for b in model.branches)
    trip = [f'encoder_{low}', f'decoder_{low}', f'encoder_{high}', f'decoder_{low}', f'decoder_{high}']
    total: tp.Dict[str, float] = {}
    for name in trip:
        for op, seconds in profile[name]['operators'].items():
            total[op] = total.get(op, 0.) + seconds
    seconds = sum(profile[name]['seconds'] for name in trip)
    operators = {op: {'seconds': v, 'share': v / seconds} for op, v in sorted(total.items(), key=lambda kv: -kv[1])}
    return {'graphs': profile, 'round_trip': {'graphs': trip, 'seconds': seconds, 'operators': operators}}


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--solver', default='bandsplit_codec', help="model size preset (bandsplit_codec/tiny: tiny)")
    parser.add_argument('--quick', action='store_true', help="tiny model, 1 s, 1 repeat (tests)")
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'profile_components.json'))
    args = parser.parse_args(argv)
    if args.quick:
        args.solver, args.seconds, args.repeats = 'bandsplit_codec/tiny', 1.0, 1
    import torch

    from bandsplit_audiocraft import bands
    from bench.common import command_line, machine, write_result
    from bench.inference_speed import SAMPLE_RATE, build
    torch.set_num_threads(args.threads)
    model = build('bandsplit', args.solver, 'cpu')
    low, high = model.branches
    low_rate, high_rate = model.branch_rates
    x = torch.randn(args.batch, 1, int(args.seconds * SAMPLE_RATE)) * 0.1
    x_low = bands.resample(x, high_rate, low_rate)
    t: tp.Dict[str, float] = {}
    with torch.inference_mode():
        codes, _ = model.encode(x)
        low_codes, high_codes = model.split_codes(codes)
        z_low = low.encoder(x_low)
        q_low, q_high = low.quantizer.decode(low_codes), high.quantizer.decode(high_codes)
        t['encoder_16k'] = median_time(lambda: low.encoder(x_low), args.repeats)
        t['encoder_32k'] = median_time(lambda: high.encoder(x), args.repeats)
        t['decoder_16k'] = median_time(lambda: low.decoder(q_low), args.repeats)
        t['decoder_32k'] = median_time(lambda: high.decoder(q_high), args.repeats)
        t['quantizer_encode_16k'] = median_time(lambda: low.quantizer.encode(z_low), args.repeats)
        t['quantizer_decode_16k'] = median_time(lambda: low.quantizer.decode(low_codes), args.repeats)
        t['resample_down'] = median_time(lambda: bands.resample(x, high_rate, low_rate), args.repeats)
        t['resample_up'] = median_time(lambda: bands.resample(x_low, low_rate, high_rate), args.repeats)
        # Weight normalisation kept vs removed: two copies of the model, timed alternately (A B A B ...).
        folded = copy.deepcopy(model)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            for module in folded.modules():
                if hasattr(module, 'weight_g'):
                    torch.nn.utils.remove_weight_norm(module)
        runs: tp.Dict[str, tp.List[float]] = {k: [] for k in ('encode', 'decode', 'encode_without_weight_norm',
                                                                'decode_without_weight_norm')}
        for m in (model, folded):  # warm-up
            m.decode(m.encode(x)[0])
        for _ in range(args.repeats):
            for m, suffix in ((model, ''), (folded, '_without_weight_norm')):
                start = time.perf_counter()
                m.encode(x)
                runs['encode' + suffix].append(time.perf_counter() - start)
                start = time.perf_counter()
                m.decode(codes)
                runs['decode' + suffix].append(time.perf_counter() - start)
        t.update({k: statistics.median(v) for k, v in runs.items()})
    deployed = deployed_profile(model, x, args.repeats, args.threads)
    structural = {
        'encode': t['encoder_16k'] + t['decoder_16k'] + t['encoder_32k'],
        'decode': t['decoder_16k'] + t['decoder_32k'],
        'single_branch_32k': t['encoder_32k'] + t['decoder_32k'],
    }
    single = structural['single_branch_32k']
    structural['ratio_encode_plus_decode'] = (structural['encode'] + structural['decode']) / single
    structural['ratio_one_pass'] = (structural['encode'] + t['decoder_32k']) / single
    result = {'command': command_line('bench/profile_components.py', argv),
              'machine': machine(), 'threads': args.threads, 'batch': args.batch, 'seconds': args.seconds,
              'solver': args.solver, 'seconds_per_component': t, 'structural': structural, 'deployed': deployed}
    print(f"{args.seconds:g} s of audio, batch {args.batch}, {args.threads} threads ({args.solver}); median seconds")
    for name, value in t.items():
        print(f"  {name:28s} {value:.4f}")
    print(f"  structural encode (E16 + D16 + E32) {structural['encode']:.4f}, "
          f"decode (D16 + D32) {structural['decode']:.4f}")
    print(f"  structural ratio to one 32 kHz branch: encode + decode {structural['ratio_encode_plus_decode']:.2f}, "
          f"one pass {structural['ratio_one_pass']:.2f}")
    trip = deployed['round_trip']
    print(f"  deployed graphs (ONNX Runtime), round trip {' + '.join(trip['graphs'])} = {trip['seconds']:.4f}:")
    for name, graph in deployed['graphs'].items():
        print(f"    {name:14s} {graph['seconds']:.4f}")
    print("    by operator type: " + ', '.join(f"{op} {v['seconds']:.4f} ({100 * v['share']:.0f} %)"
                                             for op, v in trip['operators'].items() if v['share'] >= 0.005))
    write_result(args.out, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
