"""The main job: train the band-split codec on the embedded corpus, export it, use it and evaluate it.

1. `dora run solver=bandsplit_codec/tiny` trains a CPU-sized band-split codec through the whole cascade
   (low branch, high branch with the low one frozen, joint fine-tune) on the embedded corpus, for the updates
   of `MAIN_BUDGET`; a run that was interrupted resumes from its last checkpoint;
2. beside it, at the same time, the single-branch baseline at the same 4 kbps, a SEANet/RVQ branch of the
   same width at 32 kHz, is trained with the same solver, data and number of updates
   (`bandsplit_audiocraft.baselines`; `--baselines` chooses them, e.g. `seanet_32k,dac_32k`, and
   `--baselines none` skips them); the cores are shared among the runs;
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

from .utils.dora import REPO, DoraRunError, experiment_folder, run_all

SOLVER = 'bandsplit_codec/tiny'
# Three phases of 8 epochs of 100 updates (batch 8 of 0.5 s): 2400 updates, enough for the tiny codec to
# reconstruct music within the job's 20 minutes (README, "What the main job gives").
MAIN_BUDGET = ('cascade.branch_phase=8', 'cascade.joint_phase=8')
DEFAULT_BASELINES = 'seanet_32k'


def with_threads(overrides: tp.List[str], jobs: int) -> tp.List[str]:
    """`overrides` with the run's share of the cores, unless they set `num_threads` themselves."""
    if any(o.split('=', 1)[0] == 'num_threads' for o in overrides):
        return overrides
    return [*overrides, f'num_threads={max(1, (os.cpu_count() or 1) // jobs)}']


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
    budget = [*MAIN_BUDGET, *args.overrides]
    jobs = 1 + len(baselines)
    overrides = with_threads(matched_overrides(BANDSPLIT, budget, solver=SOLVER), jobs)
    baseline_overrides = {name: with_threads(matched_overrides(name, budget, solver=SOLVER), jobs)
                          for name in baselines}
    os.environ.setdefault('AUDIOCRAFT_DORA_DIR', str(REPO / 'outputs'))

    began = time.time()
    try:
        # All at once, the cores shared; the band-split run's output streams here, the baselines' go to logs.
        run_all({BANDSPLIT: overrides, **baseline_overrides}, jobs,
                logs={name: out / f'train_{name}.log' for name in baselines})
    except DoraRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    train_time = time.time() - began

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
    summary['wall_seconds'] = round(time.time() - began, 1)
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
    print(f"  time:            {train_time:.0f} s training, {summary['wall_seconds']:.0f} s in all")
    return 0


if __name__ == '__main__':
    sys.exit(main())
