"""Quality cost of the approximate bfloat16 mode: a trained band-split model coded in float32 and in bfloat16 on the
same clips of real music.

The model (an exported checkpoint) codes every clip twice, as `bandsplit-codec compress` then `decompress` do
(`encode`, then `decode` of those codes), once in its reference precision and once after
`set_precision('bfloat16')` (`--precision bfloat16` on the command line). Reported per metric: both means and the
paired per-clip difference bfloat16 minus float32 with its 95 % bootstrap interval (`statistics.paired_difference`;
the verdict reads "bfloat16 better", "bfloat16 worse" or "inconclusive" when the interval contains 0); and, per
clip, the share of codes that bfloat16 changes and the signal-to-noise ratio of the bfloat16 audio against the
float32 audio (the `sdr` metric with the float32 audio as reference: how far the approximation moves the output,
whatever the model's own quality).

Usage (the full-size band-split codec that the reproduction trains, scored on its held-out clips)::

    python -m bandsplit_audiocraft.reproduce --size full --models bandsplit --metrics mel_distance,stft_distance,si_sdr
    python bench/precision_quality.py          # --checkpoint and --data default to that run's model and clips
    python bench/precision_quality.py --checkpoint outputs/reproduce/cuda/models/bandsplit.th --device cuda
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time
import typing as tp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import command_line, machine, write_result  # noqa: E402

APPROXIMATE = 'bfloat16'
VERDICTS = {'held': f'{APPROXIMATE} better', 'not held': f'{APPROXIMATE} worse', 'inconclusive': 'inconclusive'}
DEFAULT_CHECKPOINT = REPO / 'outputs' / 'reproduce' / 'cpu_full' / 'models' / 'bandsplit.th'


def default_data() -> tp.Optional[Path]:
    """The evaluate clips of the reproduction's data set, when there is exactly one set."""
    sets = sorted((REPO / 'outputs' / 'reproduce').glob('set_*/evaluate/data.jsonl'))
    return sets[0] if len(sets) == 1 else None


def code(model: tp.Any, wav: tp.Any) -> tp.Tuple[tp.Any, tp.Any]:
    """Codes of `wav` `[C, T]` and their decoding cut to `T` samples, as compress then decompress."""
    import torch
    with torch.inference_mode():
        codes, _ = model.encode(wav[None].to(model.device))
        return codes, model.decode(codes)[0, :, :wav.shape[-1]].float().cpu()


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--checkpoint', type=Path, default=DEFAULT_CHECKPOINT,
                        help="exported band-split model (default: the reproduction's full-size CPU run's)")
    parser.add_argument('--data', type=Path, default=None,
                        help="clips: a manifest, or a folder of audio files (default: the reproduction's evaluate "
                             "clips)")
    parser.add_argument('--metrics', default=None, help="comma-separated metrics (default: the fast ones)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--resamples', type=int, default=9999, help="bootstrap resamples of the intervals")
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'precision_quality.json'))
    args = parser.parse_args(argv)
    data = args.data or default_data()
    if not args.checkpoint.is_file() or data is None or not data.exists():
        parser.error(f"need an exported checkpoint and clips (got {str(args.checkpoint)!r} and "
                     f"{str(data) if data else 'no data set'!r}); see the usage above")

    import torch
    torch.set_num_threads(args.threads)
    from bandsplit_audiocraft.evaluation.dataset import load_evaluation_set
    from bandsplit_audiocraft.evaluation.metrics import METRICS, compute_metrics, resolve_metrics
    from bandsplit_audiocraft.evaluation.statistics import json_safe, paired_difference
    from bandsplit_audiocraft.export import load_exported, model_id
    from bandsplit_audiocraft.precision import REFERENCE

    start = time.time()
    model = load_exported(args.checkpoint, args.device)
    model.set_num_codebooks(model.total_codebooks)
    metrics = resolve_metrics(args.metrics)
    clips = load_evaluation_set(data, model.sample_rate, channels=model.channels).clips
    per_clip: tp.Dict[str, tp.Dict[str, tp.List[float]]] = {p: {m: [] for m in metrics}
                                                             for p in (REFERENCE, APPROXIMATE)}
    changed_codes, output_snr = [], []
    for clip in clips:
        outputs = {}
        for precision in (REFERENCE, APPROXIMATE):
            model.set_precision(precision)
            outputs[precision] = code(model, clip.wav)
            values = compute_metrics(outputs[precision][1][None], clip.wav[None], model.sample_rate, metrics)
            for name, value in values.items():
                per_clip[precision][name].append(float(value[0]))
        (codes, audio), (approx_codes, approx_audio) = outputs[REFERENCE], outputs[APPROXIMATE]
        changed_codes.append(float((codes != approx_codes).float().mean()))
        output_snr.append(float(METRICS['sdr'](approx_audio[None], audio[None], model.sample_rate)[0]))

    rows = {}
    for name in metrics:
        better = METRICS[name].higher_is_better
        paired = paired_difference(per_clip[APPROXIMATE][name], per_clip[REFERENCE][name], better, args.resamples)
        rows[name] = {'label': METRICS[name].label, 'higher_is_better': better,
                      REFERENCE: statistics.mean(per_clip[REFERENCE][name]),
                      APPROXIMATE: statistics.mean(per_clip[APPROXIMATE][name]),
                      'difference': f'{APPROXIMATE} - {REFERENCE}', **paired,
                      'verdict': VERDICTS[paired['verdict']]}
    result = {
        'command': command_line('bench/precision_quality.py', argv), 'machine': machine(), 'device': args.device,
        'threads': args.threads,
        'model': {'checkpoint': str(args.checkpoint), 'model_id': model_id(args.checkpoint).hex(),
                  'parameters': sum(p.numel() for p in model.parameters()), 'summary': model.summary()},
        'data': {'source': str(data), 'clips': len(clips),
                 'seconds': sum(c.wav.shape[-1] for c in clips) / model.sample_rate},
        'metrics': rows,
        'changed_codes': {'mean': statistics.mean(changed_codes), 'max': max(changed_codes)},
        'output_snr_db': {'median': statistics.median(output_snr), 'min': min(output_snr)},
        'per_clip': {'names': [c.name for c in clips], **per_clip, 'changed_codes': changed_codes,
                     'output_snr_db': output_snr},
        'wall_seconds': time.time() - start,
    }
    print(f"{model.summary()}; {len(clips)} clips of {data}")
    for row in rows.values():
        print(f"  {row['label']}: {REFERENCE} {row[REFERENCE]:.4f}, {APPROXIMATE} {row[APPROXIMATE]:.4f}, "
              f"difference {row['mean']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] ({row['verdict']})")
    print(f"  codes changed by {APPROXIMATE}: {100 * result['changed_codes']['mean']:.2f} % on average "
          f"(at most {100 * result['changed_codes']['max']:.2f} % of a clip's); {APPROXIMATE} audio against "
          f"{REFERENCE} audio: median SNR {result['output_snr_db']['median']:.1f} dB, "
          f"lowest {result['output_snr_db']['min']:.1f} dB")
    write_result(args.out, json_safe(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
