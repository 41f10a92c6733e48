"""The main job: train the band-split codec on the embedded corpus, export it, use it and evaluate it.

1. `dora run solver=bandsplit_codec/tiny` trains a CPU-sized band-split codec through the whole cascade
   (low branch, high branch with the low one frozen, joint fine-tune) on the embedded corpus; a run that was
   interrupted resumes from its last checkpoint;
2. the single-branch baselines at the same 4 kbps, a SEANet/RVQ branch of the same width at 32 kHz and
   DAC at 32 kHz, are trained with the same solver, data and number of updates
   (`bandsplit_audiocraft.baselines`; `--baselines` chooses them, `--baselines none` skips them);
3. the experiments are exported to audiocraft's release format;
4. the band-split export is loaded back with `CompressionModel.get_pretrained`, and an evaluation clip is
   compressed to codes and reconstructed, at 32 kHz and from the low-band codebooks alone at 16 kHz;
5. the evaluation report (`bandsplit_audiocraft.evaluation.report`) scores the models side by side on the
   corpus' evaluate split: metrics at 16 and 32 kHz, band analysis, inpainting, token editing, spectrograms;
6. what was done and where everything is goes to stdout.

Run from the repository root: `python -m bandsplit_audiocraft.main [--out OUT] [dora overrides...]`.
"""

import argparse
import json
import os
from pathlib import Path
import sys
import time
import typing as tp

from .utils.dora import REPO, DoraRunError, dora_run

SOLVER = 'bandsplit_codec/tiny'
DEFAULT_BASELINES = 'seanet_32k,dac_32k'


def run_training(overrides: tp.Sequence[str]) -> None:
    """Run (or resume) the experiment with `dora run`, streaming its log."""
    print(f"$ python -m dora run {' '.join(overrides)}", flush=True)
    dora_run(overrides)


def experiment_folder(overrides: tp.Sequence[str]) -> Path:
    from .train import main
    return Path(main.get_xp(list(overrides)).folder)


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bandsplit_audiocraft.main', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=str(REPO / 'outputs' / 'main'), help="folder for the exported model, "
                        "the reconstructed audio and the summary (default: outputs/main)")
    parser.add_argument('--baselines', default=DEFAULT_BASELINES, help="comma-separated baselines to train and "
                        "report beside the band-split codec, among those of `python -m bandsplit_audiocraft.baselines`"
                        " (default: %(default)s; `none` for none)")
    parser.add_argument('overrides', nargs='*', help="extra dora/hydra overrides, e.g. cascade.branch_phase=1")
    args = parser.parse_args(argv)
    from .baselines import BANDSPLIT, COMPARED, matched_overrides
    baselines = [b.strip() for b in args.baselines.split(',') if b.strip() and b.strip() != 'none']
    unknown = [b for b in baselines if b not in COMPARED or b == BANDSPLIT]
    if unknown:
        parser.error(f"unknown baseline(s) {', '.join(unknown)}; choose among "
                     f"{', '.join(b for b in COMPARED if b != BANDSPLIT)}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    overrides = matched_overrides(BANDSPLIT, args.overrides, solver=SOLVER)
    baseline_overrides = {name: matched_overrides(name, args.overrides, solver=SOLVER) for name in baselines}
    os.environ.setdefault('AUDIOCRAFT_DORA_DIR', str(REPO / 'outputs'))

    start = time.time()
    try:
        run_training(overrides)
        train_time = time.time() - start
        for name in baselines:
            run_training(baseline_overrides[name])
    except DoraRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    import torch

    from . import register
    from .data.audio_io import read_audio, write_wav
    from .export import export_checkpoint
    from .models import BandSplitCompressionModel
    from .utils.atomic import atomic_torch_save, atomic_write_bytes
    register()
    from audiocraft.models import CompressionModel

    folder = experiment_folder(overrides)
    exported = export_checkpoint(folder, out / 'bandsplit_tiny.th')
    model = CompressionModel.get_pretrained(str(exported))
    assert isinstance(model, BandSplitCompressionModel)

    from .configs import compose
    cfg = compose(overrides)
    manifest = Path(str(cfg.corpus_dir)) / 'evaluate' / 'data.jsonl'
    clip_path = Path(json.loads(manifest.read_text().splitlines()[0])['path'])
    wav, sr = read_audio(clip_path, sample_rate=model.sample_rate, channels=model.channels)
    x = wav[None]
    with torch.no_grad():
        codes, _ = model.encode(x)
        full = model.decode(codes)[..., :x.shape[-1]]
        k_low = model.codebooks_per_branch[0]
        low = model.decode_bands(codes[:, :k_low])[0][..., :(x.shape[-1] + 1) // 2]
    from .evaluation.metrics import compute_metrics
    names = ['si_sdr', 'mel_distance', 'stft_distance', 'waveform_l1']
    metrics_full = {k: float(v.mean()) for k, v in compute_metrics(full, x, model.sample_rate, names).items()}
    with torch.no_grad():
        x_low = model(x, num_branches=1).branch_targets[0]
    metrics_low = {k: float(v.mean()) for k, v in compute_metrics(low, x_low, model.branch_rates[0], names).items()}
    write_wav(out / 'input.wav', x[0], model.sample_rate, overwrite=True)
    write_wav(out / 'reconstruction_32khz.wav', full[0], model.sample_rate, overwrite=True)
    write_wav(out / 'reconstruction_16khz_low_band_only.wav', low[0], model.branch_rates[0], overwrite=True)
    atomic_torch_save(codes.cpu(), out / 'codes.pt')

    summary = {
        'experiment': str(folder),
        'exported_model': str(exported),
        'train_seconds': round(train_time, 1),
        'clip': str(clip_path),
        'duration_seconds': x.shape[-1] / model.sample_rate,
        'codes_shape': list(codes.shape),
        'bitrate_kbps': model.bandwidth,
        'low_band_bitrate_kbps': model.branches[0].bandwidth,
        'metrics_32khz': metrics_full,
        'metrics_16khz_low_band_only': metrics_low,
    }
    from .evaluation.report import make_report
    checkpoints, names = [exported], ['bandsplit']
    for name in baselines:
        checkpoints.append(export_checkpoint(experiment_folder(baseline_overrides[name]), out / f'baseline_{name}.th'))
        names.append(name)
    report = out / 'report'
    make_report(checkpoints, manifest, report, names=names, command=' '.join(['python -m bandsplit_audiocraft.main',
                                                                               *(argv or sys.argv[1:])]))
    summary['report'] = str(report / 'report.md')
    atomic_write_bytes(out / 'summary.json', json.dumps(summary, indent=2).encode(), overwrite=True)

    print()
    print("Band-split codec trained through the full cascade on the embedded corpus.")
    print(f"  experiment:      {folder}")
    print(f"  exported model:  {exported} (loaded back with CompressionModel.get_pretrained)")
    print(f"  codec:           {model.frame_rate:g} Hz frames, codebooks per branch {model.codebooks_per_branch}, "
          f"{model.bandwidth:g} kbps in total, {model.branches[0].bandwidth:g} kbps for the 16 kHz stream")
    print(f"  evaluation clip: {clip_path.name}, {summary['duration_seconds']:.2f} s -> codes {list(codes.shape)}")
    for label, values in [('32 kHz output', metrics_full), ('16 kHz low band', metrics_low)]:
        print(f"  {label:16s} " + ', '.join(f"{k} {v:.3f}" for k, v in values.items()))
    print(f"  audio and codes: {out}")
    print(f"  report:          {report / 'report.md'} (with report.json and spectrogram figures)")
    print(f"  summary:         {out / 'summary.json'}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
