"""Reproduce the paper's claims on real recorded music: every compared model trained on the same data for the same
number of updates, scored on the same held-out clips, each claim tested clip by clip.

    python -m bandsplit_audiocraft.reproduce                         # CPU: tiny models, the default budget
    python -m bandsplit_audiocraft.reproduce cascade.branch_phase=8 cascade.joint_phase=8   # a larger budget
    python -m bandsplit_audiocraft.reproduce --prepare-only          # build the data set only
    python -m bandsplit_audiocraft.reproduce --device cuda           # GPU: full-size models, all at once
    python -m bandsplit_audiocraft.reproduce --plan [--device cuda]  # print what would run, run nothing
    python -m bandsplit_audiocraft.reproduce --reduced --folder DIR  # minimal budget and set (tests)

1. **Data** (`data.music`): the Debian package `wesnoth-1.16-music` (recorded orchestral music; `--deb` reuses a
   downloaded `.deb`, `--folder` takes any folder of recordings instead), whole tracks assigned to evaluate,
   valid and train splits, 32 kHz mono, evaluate and valid tracks cut into clips of `--clip-seconds`. The
   package's licence statement is read from its copyright file and recorded.
2. **Models** (`MODELS`): the band-split codec trained in cascade and in the joint regime, single-branch SEANet at
   32 kHz (the same width, and the width whose parameter count is closest to the band-split codec's), DAC at
   32 kHz, SEANet and DAC at 16 kHz, all under the EnCodec-like recipe; the paper's pair (band-split codec with
   DAC branches, DAC at 32 kHz) under DAC's recipe. Every model trains for as many updates as the band-split
   cascade (`baselines.matched_budget`); the DAC recipe's runs take the other recipe's epoch length and phase
   lengths, so their cascade has the same length too. The budget is a list of dora overrides (`CPU_BUDGET`,
   `GPU_BUDGET`, `REDUCED_BUDGET`, or the ones given on the command line, which apply to every model).
3. **Training**: `dora run` for each model, `--jobs` at a time with `num_threads = cores // jobs` each; a killed
   run resumes from its last checkpoint when the command is run again, and finished models are kept. Each
   model's training time is the sum of its epochs' train stages in its history.
4. **Scoring**: each model is exported and scored by the evaluation report (`evaluation.report.make_report`) on
   the same evaluate clips, `--jobs` models at a time; the reports are merged into `<work>/report/report.md`.
5. **Claims** (`CLAIMS`, `assemble_claims`): every claim is the paired per-clip difference of two sets of values
   on the same clips (`statistics.paired_difference`), with its 95 % bootstrap interval, the number of clips and
   a verdict: held, not held, or inconclusive when the interval contains 0.
6. **Outputs**: a JSON file (`--json`, default `<work>/reproduction.json`) and a Markdown document
   (`--markdown`, default `<work>/REPRODUCTION.md`, `render_markdown`); a `--device cuda` run writes them, its
   logs, models and reports under `<work>/cuda` (the data set and the experiments stay shared). `--render-from`
   rewrites the Markdown of an earlier run's JSON, and `--gpu-result` adds a GPU run's rows to it.
"""

import argparse
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
import datetime
import hashlib
import json
import multiprocessing
import os
from pathlib import Path
import shlex
import sys
import time
import typing as tp

from omegaconf import OmegaConf

from .baselines import COMPARED, describe_run, matched_budget
from .data.music import (
    COMPLETE,
    DEFAULT_PACKAGE,
    SAMPLE_RATE,
    MusicSetError,
    assign_splits,
    build_set,
    describe_package,
    fetch_debian_package,
    find_tracks,
    relocate_set,
)
from .utils.dora import REPO, DoraRun, DoraRunError, finish, kill, start

PROG = 'python -m bandsplit_audiocraft.reproduce'

# ---- models ----------------------------------------------------------------------------------------------------

SOLVERS: dict[str, dict[str, str]] = {
    'cpu': {'seanet': 'bandsplit_codec/tiny', 'dac': 'bandsplit_codec/dac_recipe_tiny'},
    'cuda': {'seanet': 'bandsplit_codec', 'dac': 'bandsplit_codec/dac_recipe'},
}
"""Solver of each recipe on each device: the CPU-sized networks on CPU, the full-size ones on a GPU."""


@dataclass(frozen=True)
class Model:
    """One compared model.

    Attributes:
        name: Its name in the outputs.
        recipe: 'seanet' (the EnCodec-like recipe, `solver=bandsplit_codec[/tiny]`) or 'dac' (DAC's recipe,
            `solver=bandsplit_codec/dac_recipe[_tiny]`).
        overrides: What it adds to its recipe (model config, regime).
        cascade: Whether it trains through the band-split cascade; otherwise it is one phase as long as the cascade.
        what: One line saying what it is.
        width_of: Name of the model whose parameter count its SEANet width (`seanet.n_filters`) is chosen to match.
    """
    name: str
    recipe: str
    overrides: tuple[str, ...]
    cascade: bool
    what: str
    width_of: str | None = None


MODELS: dict[str, Model] = {model.name: model for model in [
    Model('bandsplit', 'seanet', (), True,
          "band-split codec, SEANet/RVQ branches (16 kHz + 32 kHz residual), cascade"),
    Model('bandsplit_joint', 'seanet', ('cascade.regime=joint',), False,
          "the same codec trained in the joint regime (all branches from the first update)"),
    Model('seanet_32k', 'seanet', tuple(COMPARED['seanet_32k']), False,
          "one SEANet/RVQ branch at 32 kHz, the band-split branches' width"),
    Model('seanet_32k_params', 'seanet', tuple(COMPARED['seanet_32k']), False,
          "one SEANet/RVQ branch at 32 kHz, width chosen to match bandsplit's parameter count", width_of='bandsplit'),
    Model('dac_32k', 'seanet', tuple(COMPARED['dac_32k']), False, "DAC's architecture at 32 kHz"),
    Model('seanet_16k', 'seanet', tuple(COMPARED['seanet_16k']), False, "one SEANet/RVQ branch at 16 kHz"),
    Model('dac_16k', 'seanet', tuple(COMPARED['dac_16k']), False, "DAC's architecture at 16 kHz"),
    Model('bandsplit_dac', 'dac', ('model=bandsplit/dac',), True,
          "the paper's codec: band-split with DAC branches, cascade, DAC's recipe"),
    Model('dac_32k_dac_recipe', 'dac', tuple(COMPARED['dac_32k']), False, "DAC at 32 kHz, DAC's recipe"),
    Model('dac_16k_dac_recipe', 'dac', tuple(COMPARED['dac_16k']), False, "DAC at 16 kHz, DAC's recipe"),
]}
DEFAULT_MODELS = tuple(name for name in MODELS if name != 'dac_16k_dac_recipe')
"""The models trained by default; `dac_16k_dac_recipe` (for the optional 16 kHz row of the paper's pair) is
trained when named in `--models`."""

# ---- budgets ---------------------------------------------------------------------------------------------------

CPU_BUDGET = ['cascade.branch_phase=4', 'cascade.joint_phase=4']
# The CPU default: 4 epochs of the tiny recipe's 100 updates per phase, 1200 updates for every model (batch 8 of
# 0.5 s; batch 4 of 0.25 s under the DAC recipe). Sized from the per-update costs of bench/training_cost.py so that
# the default models train and are scored within 2.5 hours on 2 cores; the whole run's time is an estimate until
# a run of this command records it.
GPU_BUDGET = ['cascade.unit=updates', 'cascade.branch_phase=70', 'cascade.joint_phase=60',
              'optim.updates_per_epoch=100', 'dataset.batch_size=8', 'dataset.train.num_samples=800',
              'dataset.valid.num_samples=16', 'dataset.evaluate.num_samples=8', 'dataset.generate.num_samples=4',
              'dataset.num_workers=1', 'checkpoint.keep_last=1']
# The GPU budget: full-size models, 200 updates of batch 8 x 0.38 s each, every model trained at the same time on
# one GPU. The size is an estimate, not yet measured: it is meant to let the default models train and be scored
# within 10 minutes on one H200 (the GPU's time shared by all the runs; batch 8 so that the DAC-architecture models,
# the largest, fit in its memory together).
REDUCED_BUDGET = ['optim.updates_per_epoch=2', 'dataset.train.num_samples=16', 'cascade.branch_phase=1',
                  'cascade.joint_phase=1', 'dataset.valid.num_samples=2', 'dataset.evaluate.num_samples=2',
                  'dataset.generate.num_samples=1']
# The reduced mode (tests): 6 updates per model, clips of 2 s, no ViSQOL, fewer bootstrap resamples.
REDUCED_SET = {'clip_seconds': 2.0, 'clips_per_track': 3}
REDUCED_RESAMPLES = 999

CLIP_SECONDS = 5.0
CLIPS_PER_TRACK = 12
# With the Wesnoth soundtrack's 6 evaluate tracks, 12 clips of 5 s per track (fewer from short tracks) give more
# than 60 evaluate clips.
CLAIM_METRICS = ('mel_distance', 'stft_distance', 'waveform_l1', 'si_sdr', 'visqol')
"""The metrics of the paper's comparisons (`evaluation.metrics.METRICS`); ViSQOL is left out in reduced mode."""
BOOTSTRAP_RESAMPLES = 9999
VERDICTS = ('held', 'not held', 'inconclusive')


class ReproductionError(RuntimeError):
    """A step of the reproduction failed; the message says which and what to do."""


# ---- claims ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """One claim of the paper about one model, tested on every measure it names.

    Attributes:
        group: Letter of the claim (`CLAIM_GROUPS`).
        kind: 'point': `model` better than `other` on every scored metric at an operating point; 'bands': the high
            branch's SDR (against its residual target) higher in the top band than in the band below (band
            analysis); 'inpainting': the band-split output better than plain upsampling of the low branch on
            band-limited input (inpainting analysis).
        model: The model the claim is about.
        other: The model it is compared with ('point').
        point: 'full' (the model's output rate) or 'low' (its low branch's rate, the 16 kHz stream).
    """
    group: str
    kind: str
    model: str
    other: str | None = None
    point: str = 'full'


CLAIM_GROUPS: dict[str, str] = {
    'a': "At the full rate and bitrate, the band-split codec is better than single-branch codecs",
    'b': "The band-split codec's low-band stream alone is better than single-branch codecs at its rate and bitrate",
    'c': "The high branch codes the upper band better than the lower band (band analysis)",
    'd': "On band-limited input, the high branch's invented upper band beats plain upsampling (toy inpainting)",
    'e': "Cascade training is better than joint training",
}
CLAIMS: tuple[Claim, ...] = (
    Claim('a', 'point', 'bandsplit', 'dac_32k'),
    Claim('a', 'point', 'bandsplit', 'seanet_32k'),
    Claim('a', 'point', 'bandsplit', 'seanet_32k_params'),
    Claim('a', 'point', 'bandsplit_dac', 'dac_32k_dac_recipe'),
    Claim('b', 'point', 'bandsplit', 'seanet_16k', 'low'),
    Claim('b', 'point', 'bandsplit', 'dac_16k', 'low'),
    Claim('b', 'point', 'bandsplit_dac', 'dac_16k_dac_recipe', 'low'),
    Claim('c', 'bands', 'bandsplit'),
    Claim('c', 'bands', 'bandsplit_dac'),
    Claim('d', 'inpainting', 'bandsplit'),
    Claim('d', 'inpainting', 'bandsplit_dac'),
    Claim('e', 'point', 'bandsplit', 'bandsplit_joint'),
)


def _khz(rate: float) -> str:
    return f"{rate / 1000:g}"


def _statement(claim: Claim, models: Mapping[str, Mapping]) -> str:
    """The claim in words, with the operating point read from the report (`models`: its `models` entries)."""
    if claim.kind == 'bands':
        return f"{claim.model}: high-branch SDR higher in the top band than below it"
    if claim.kind == 'inpainting':
        return f"{claim.model}: band-split output better than plain upsampling on band-limited input"
    entry = models.get(claim.model)
    if entry is None:
        return f"{claim.model} better than {claim.other} ({claim.point} rate)"
    rate = _point_rate(claim, entry)
    point = entry['operating_points'].get(str(rate), {})
    kbps = f" / {point['bandwidth_kbps']:g} kbps" if 'bandwidth_kbps' in point else ""
    return f"{claim.model} better than {claim.other} at {_khz(rate)} kHz{kbps}"


def _point_rate(claim: Claim, entry: Mapping) -> int:
    info = entry['info']
    return int(info['branch_rates'][0]) if claim.point == 'low' and info.get('branch_rates') else \
        int(info['sample_rate'])


def _row(claim: Claim, statement: str, measure: str, label: str, higher_is_better: bool, difference: str,
         paired: Mapping, **extra: tp.Any) -> dict:
    return {'group': claim.group, 'statement': statement, 'kind': claim.kind, 'model': claim.model,
            'other': claim.other, **extra, 'measure': measure, 'label': label, 'higher_is_better': higher_is_better,
            'difference': difference, **paired}


def check_claim(claim: Claim, report: Mapping, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[list[dict], str | None]:
    """The rows of one claim from a report's content (`report.json` of `evaluation.report`), one per measure, each
    with `statistics.paired_difference`'s mean, interval, n and verdict; or no row and the reason it cannot be
    tested (a model missing from the report, an analysis that does not apply)."""
    from .evaluation.inpainting import DEFAULT_INPAINTING_METRICS
    from .evaluation.metrics import METRICS
    from .evaluation.sections import band_text
    from .evaluation.statistics import paired_difference

    models = report['models']
    statement = _statement(claim, models)
    missing = [name for name in (claim.model, claim.other) if name is not None and name not in models]
    if missing:
        return [], f"{' and '.join(missing)} not scored in this run (see --models)"
    entry = models[claim.model]
    if claim.kind == 'point':
        rate = str(_point_rate(claim, entry))
        ours, theirs = entry['operating_points'].get(rate), models[claim.other]['operating_points'].get(rate)
        if ours is None or theirs is None:
            return [], f"{claim.model} and {claim.other} do not share the {_khz(int(rate))} kHz operating point"
        return [_row(claim, statement, metric, METRICS[metric].label, METRICS[metric].higher_is_better,
                     f"{claim.model} - {claim.other}",
                     paired_difference(ours['per_clip'][metric], theirs['per_clip'][metric],
                                       METRICS[metric].higher_is_better, resamples), operating_point=rate)
                for metric in report['metrics']], None
    if claim.kind == 'bands':
        section = entry['band_analysis']
        if not section.get('applicable') or len(section.get('bands', [])) < 2:
            return [], f"the band analysis does not apply to {claim.model}"
        lower, upper = section['bands'][-2:]
        sdr = section['per_clip']['high']['sdr']
        high = entry.get('signals', {}).get('high', 'high branch')
        label = f"SDR of {high} vs its residual target (dB), {band_text(upper)} minus {band_text(lower)}"
        return [_row(claim, statement, 'band_sdr', label, True, f"{band_text(upper)} - {band_text(lower)}",
                     paired_difference(sdr[upper], sdr[lower], True, resamples))], None
    if claim.kind == 'inpainting':
        section = entry['inpainting']
        if not section.get('applicable'):
            return [], f"the inpainting analysis does not apply to {claim.model}"
        systems = section['per_clip']['systems']
        rows = []
        for metric in DEFAULT_INPAINTING_METRICS:
            if metric in systems['band_split']:
                better = METRICS[metric].higher_is_better
                rows.append(_row(claim, statement, metric, METRICS[metric].label, better,
                                 "band_split - upsampled_low",
                                 paired_difference(systems['band_split'][metric], systems['upsampled_low'][metric],
                                                   better, resamples)))
        return rows, None
    raise ValueError(f"Unknown claim kind {claim.kind!r}.")


def assemble_claims(report: Mapping, claims: Sequence[Claim] = CLAIMS,
                    resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[list[dict], list[dict]]:
    """Every claim tested on a report's content: `(rows, not_tested)`, the rows of `check_claim` in the order of
    `claims`, and `{'group', 'statement', 'reason'}` for each claim that could not be tested."""
    rows, not_tested = [], []
    for claim in claims:
        tested, reason = check_claim(claim, report, resamples)
        rows += tested
        if reason is not None:
            not_tested.append({'group': claim.group, 'statement': _statement(claim, report['models']),
                               'reason': reason})
    return rows, not_tested


# ---- plan ------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One model's training run: its `dora run` overrides and what its config builds (`baselines.describe_run`)."""
    model: Model
    overrides: list[str]
    row: dict
    width: dict | None = None
    record: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model.name


def set_folder(work: Path, source: Mapping[str, str], clip_seconds: float, clips_per_track: int,
               max_tracks: int | None) -> Path:
    """Folder of the data set of these settings under `work` (a name derived from them, so a changed setting
    gives a new set)."""
    key = json.dumps([dict(source), clip_seconds, clips_per_track, max_tracks], sort_keys=True)
    return work / f"set_{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def recipe_alignment(shared: Sequence[str], device: str) -> list[str]:
    """Overrides giving the DAC recipe the EnCodec-like recipe's epoch length and phase lengths under `shared`, so
    that its cascade lasts as many updates (its batch keeps its own size; its epoch has as many samples as updates
    times batch). Only the values that differ from the DAC recipe's own are returned."""
    from .configs import compose
    reference = compose([f"solver={SOLVERS[device]['seanet']}", *shared])
    dac = compose([f"solver={SOLVERS[device]['dac']}", *shared])
    updates = int(reference.optim.updates_per_epoch)
    wanted = {'optim.updates_per_epoch': updates, 'dataset.train.num_samples': updates * int(dac.dataset.batch_size),
              'cascade.unit': reference.cascade.unit, 'cascade.branch_phase': reference.cascade.branch_phase,
              'cascade.joint_phase': reference.cascade.joint_phase}
    return [f'{key}={value}' for key, value in wanted.items() if OmegaConf.select(dac, key) != value]


def deduplicated(overrides: Sequence[str]) -> list[str]:
    """`overrides` with only the last of several values of one key (the one Hydra applies), in order."""
    seen: set[str] = set()
    kept = []
    for override in reversed(overrides):
        key = override.split('=', 1)[0]
        if key not in seen:
            seen.add(key)
            kept.append(override)
    return kept[::-1]


def run_overrides(model: Model, shared: Sequence[str], device: str, extra: Sequence[str] = ()) -> list[str]:
    """The `dora run` overrides of `model`: its recipe's solver, the `shared` data and budget, what it adds, and
    for a one-phase model a joint phase as long as its recipe's cascade."""
    solver = SOLVERS[device][model.recipe]
    shared = deduplicated([*shared, *(recipe_alignment(shared, device) if model.recipe == 'dac' else [])])
    added = [*model.overrides, *extra]
    overrides = [f'solver={solver}', *shared, *added] if model.cascade else matched_budget(added, shared, solver)
    return deduplicated(overrides)


def matching_width(target: int, overrides: Sequence[str]) -> dict:
    """The SEANet width (`seanet.n_filters`, an integer) whose model, built from `overrides` plus the width, has
    the parameter count closest to `target`: `{'n_filters', 'parameters', 'default_n_filters'}`."""
    from .configs import compose
    default = int(compose(overrides).seanet.n_filters)
    counts: dict[int, int] = {}

    def count(width: int) -> int:
        if width not in counts:
            counts[width] = describe_run('width', [*overrides, f'seanet.n_filters={width}'])['parameters']
        return counts[width]

    low, high = default, default
    while count(high) < target:  # parameters grow with the width: bracket the target, then bisect
        low, high = high, high * 2
    while low > 1 and count(low) >= target:
        low, high = max(1, low // 2), low
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < target else (low, middle)
    best = min((low, high), key=lambda width: (abs(count(width) - target), width))
    return {'n_filters': best, 'parameters': count(best), 'default_n_filters': default}


def make_plan(names: Sequence[str], shared: Sequence[str], device: str) -> list[Run]:
    """The runs of the models `names` under the `shared` overrides (data and budget) on `device`.

    Raises:
        ReproductionError: The models would not train for the same number of updates.
    """
    runs: list[Run] = []
    described: dict[str, dict] = {}
    for name in names:
        model = MODELS[name]
        width = None
        extra: list[str] = []
        if model.width_of is not None:
            reference = described.get(model.width_of) or describe_run(
                model.width_of, run_overrides(MODELS[model.width_of], shared, device))
            width = matching_width(reference['parameters'], run_overrides(model, shared, device))
            width.update(target=model.width_of, target_parameters=reference['parameters'])
            extra = [f"seanet.n_filters={width['n_filters']}"]
        overrides = run_overrides(model, shared, device, extra)
        described[name] = describe_run(name, overrides)
        runs.append(Run(model, overrides, described[name], width))
    updates = {run.name: run.row['updates'] for run in runs}
    if len(set(updates.values())) > 1:
        raise ReproductionError(f"The models would not train for the same number of updates: {updates}. Give the "
                                f"budget as overrides every recipe reads (cascade.*, optim.updates_per_epoch).")
    return runs


def experiment_folder(overrides: Sequence[str], dora_dir: Path) -> Path:
    """The folder of the experiment `overrides` define, under `dora_dir`."""
    from .train import main
    xp = main.get_xp(list(overrides))
    return Path(dora_dir) / xp.dora.xps / xp.sig


def history(folder: Path) -> list[dict]:
    path = folder / 'history.json'
    return json.loads(path.read_text()) if path.is_file() else []


def total_epochs(overrides: Sequence[str]) -> int:
    from .configs import compose
    from .solvers.schedule import Schedule
    return Schedule.from_experiment(compose(overrides)).total_epochs


# ---- training --------------------------------------------------------------------------------------------------

def train_all(runs: Sequence[Run], dora_dir: Path, logs: Path, jobs: int, launch: Sequence[str],
              env: Mapping[str, str] | None = None, poll: float = 2.0) -> None:
    """Train every run not finished yet with `dora run`, `jobs` at a time (with the extra overrides `launch`), and
    fill each run's `record`: experiment folder, epochs, training seconds (summed from its history), whether it
    was trained before this call, the wall seconds of this call and whether it resumed an interrupted run. A
    failed run does not stop the others.

    Raises:
        ReproductionError: Some run failed (after the others ended); the message quotes the end of its log.
    """
    pending: list[tuple[Run, Path]] = []
    for run in runs:
        folder = experiment_folder(run.overrides, dora_dir)
        run.record.update(experiment=str(folder), epochs=total_epochs(run.overrides))
        done = len(history(folder))
        run.record['trained_before'] = done >= run.record['epochs']
        if run.record['trained_before']:
            print(f"{run.name}: trained already ({folder})", flush=True)
        else:
            run.record['resumed'] = done > 0
            pending.append((run, folder))
    running: dict[str, tuple[Run, DoraRun, float]] = {}
    failures: list[str] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                run, folder = pending.pop(0)
                print(f"training {run.name}: dora run {shlex.join([*run.overrides, *launch])}", flush=True)
                running[run.name] = (run, start([*run.overrides, *launch], dora_dir=dora_dir, env=env,
                                                log=logs / f'{run.name}.log'), time.time())
            time.sleep(poll)
            for name, (run, proc, began) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                try:
                    finish(proc)
                except DoraRunError as error:
                    failures.append(f"{name}: {error}")
                    print(f"training {name} failed; its log: {proc.log}", flush=True)
                    continue
                run.record['wall_seconds_this_invocation'] = round(time.time() - began, 1)
                print(f"{name}: trained in {run.record['wall_seconds_this_invocation']:.0f} s", flush=True)
    except BaseException:
        for _, proc, _ in running.values():
            kill(proc)
        raise
    for run in runs:
        stages = history(Path(run.record['experiment']))
        run.record['train_seconds'] = round(sum(h.get('train', {}).get('duration', 0.) for h in stages), 1)
        run.record['stage_seconds'] = round(sum(stage.get('duration', 0.) for h in stages for stage in h.values()
                                                if isinstance(stage, dict)), 1)
    if failures:
        raise ReproductionError("Training failed for " + "; ".join(failures) + "\nRun the same command again to "
                                "resume: finished models are kept.")


# ---- scoring ---------------------------------------------------------------------------------------------------

def scoring_stamp(checkpoint: str, manifest: str, metrics: Sequence[str], device: str, resamples: int) -> dict:
    """What a model's scores depend on: its weights (`export.model_id`), the clips, the metrics, the device and the
    resamples; kept beside its report, so that the same scoring is not done twice."""
    from .export import model_id
    return {'model': model_id(checkpoint).hex(), 'manifest': manifest, 'metrics': list(metrics), 'device': device,
            'resamples': resamples}


def scored_report(out: Path, stamp: Mapping) -> dict | None:
    """The report in `out` if it was made with `stamp`, else None."""
    done, report = out / 'scored.json', out / 'report.json'
    if done.is_file() and report.is_file() and json.loads(done.read_text()) == stamp:
        return json.loads(report.read_text())
    return None


def score_model(name: str, checkpoint: str, manifest: str, out: str, metrics: Sequence[str], device: str,
                resamples: int, threads: int, stamp: Mapping) -> dict:
    """Score one exported model on the clips of `manifest` (read at the set's rate) with the evaluation report in
    `out`, and mark it with `stamp`; returns the report's content. Runs in a worker process."""
    import torch

    from .evaluation.dataset import load_evaluation_set
    from .evaluation.report import make_report
    torch.set_num_threads(threads)
    dataset = load_evaluation_set(manifest, SAMPLE_RATE, channels=1)
    report = make_report([checkpoint], dataset, out, names=[name], metrics=list(metrics), device=device,
                         examples=False, progress=False, bootstrap_resamples=resamples,
                         command=f"{PROG} (scoring {name} on {manifest})")
    (Path(out) / 'scored.json').write_text(json.dumps(stamp))
    return report


def score_all(checkpoints: Mapping[str, Path], manifest: Path, out: Path, metrics: Sequence[str], device: str,
              resamples: int, jobs: int, threads: int) -> dict[str, dict]:
    """Every model's report (`score_model`, in `out/<name>`): those scored before with the same stamp are read
    back, the others scored `jobs` at a time in worker processes."""
    reports: dict[str, tp.Any] = {}
    todo = {}
    for name, path in checkpoints.items():
        stamp = scoring_stamp(str(path), str(manifest), metrics, device, resamples)
        reports[name] = scored_report(out / name, stamp)
        if reports[name] is None:
            todo[name] = (str(path), str(manifest), str(out / name), list(metrics), device, resamples, threads, stamp)
    if todo:
        context = multiprocessing.get_context('spawn')
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
            futures = {name: pool.submit(score_model, name, *args) for name, args in todo.items()}
            reports.update({name: future.result() for name, future in futures.items()})
    return reports


def merge_reports(reports: Mapping[str, Mapping], out: Path, command: str, baseline: str | None,
                  resamples: int) -> dict:
    """One report with every model's section (the reports of `score_model`, on the same clips), with paired
    differences against `baseline`; written as `out/report.json` and `out/report.md`."""
    from .evaluation.markdown import render_markdown
    from .evaluation.report import paired_against
    from .utils.atomic import atomic_write_bytes
    first = next(iter(reports.values()))
    clips = [clip['name'] for clip in first['data']['clips']]
    sections = {}
    for name, report in reports.items():
        if [clip['name'] for clip in report['data']['clips']] != clips:
            raise ReproductionError(f"{name} was scored on other clips than {next(iter(reports))}; delete "
                                    f"{out / name} and run again.")
        section = dict(report['models'][name])
        if section.get('figure'):
            section['figure'] = f"{name}/{section['figure']}"
        sections[name] = section
    merged = {**first, 'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
              'command': command, 'models': sections,
              'paired': paired_against(sections, baseline, first['metrics'], resamples)
              if baseline in sections and len(sections) > 1 else None}
    merged['files'] = {'report_md': str(out / 'report.md'), 'report_json': str(out / 'report.json'),
                       'figures': [str(out / entry['figure']) for entry in sections.values() if entry['figure']],
                       'examples': []}
    atomic_write_bytes(out / 'report.json', (json.dumps(merged, indent=2, allow_nan=False) + '\n').encode(),
                       overwrite=True)
    atomic_write_bytes(out / 'report.md', render_markdown(merged).encode(), overwrite=True)
    return merged


# ---- data ------------------------------------------------------------------------------------------------------

def prepare_data(work: Path, folder: Path | None, package: str, deb: Path | None, clip_seconds: float,
                 clips_per_track: int, max_tracks: int | None) -> dict:
    """Build (or find) the data set: `{'set', 'source', 'package', 'sample_rate', 'clip_seconds',
    'clips_per_track', 'splits'}`, also kept as `<set>/source.json`, so that a set prepared elsewhere is used
    without its source."""
    source = {'folder': str(folder)} if folder is not None else {'debian_package': package}
    out = set_folder(work, source, clip_seconds, clips_per_track, max_tracks)
    described = out / 'source.json'
    if described.is_file() and (out / COMPLETE).is_file():
        relocate_set(out)
        return {**json.loads(described.read_text()), 'set': str(out)}
    if folder is not None:
        root, info = folder, None
    else:
        root = fetch_debian_package(package, work, deb)
        info = describe_package(root, package)
    tracks = find_tracks(root, min_seconds=clip_seconds)
    if max_tracks is not None:
        tracks = sorted(tracks, key=lambda t: hashlib.sha1(str(t[0].relative_to(root)).encode()).hexdigest())
        tracks = tracks[:max_tracks]
    splits = assign_splits([path for path, _ in tracks], root)
    print(f"{len(tracks)} tracks ({sum(seconds for _, seconds in tracks) / 60:.1f} min); building the set in {out}",
          flush=True)
    summary = build_set(splits, out, clip_seconds, clips_per_track)
    data = {'set': str(out), 'source': source, 'package': info, 'sample_rate': SAMPLE_RATE,
            'clip_seconds': clip_seconds, 'clips_per_track': clips_per_track, 'max_tracks': max_tracks,
            'splits': {split: {'tracks': len(entry['tracks']),
                               'track_names': [Path(track).stem for track in entry['tracks']],
                               'files': entry['files'], 'seconds': entry['seconds']}
                       for split, entry in summary.items()}}
    described.write_text(json.dumps(data, indent=2))
    return data


# ---- Markdown --------------------------------------------------------------------------------------------------

def _number(value: float | None) -> str:
    from .evaluation.sections import fmt
    return fmt(value)


def _claims_table(result: Mapping) -> list[str]:
    from .evaluation.sections import table
    rows = []
    for row in result['claims']:
        arrow = '↑' if row['higher_is_better'] else '↓'
        interval = f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
        rows.append([f"{row['group']}", row['statement'], f"{row['label']} {arrow}", f"`{row['difference']}`",
                     _number(row['mean']), interval, str(row['n']), f"**{row['verdict']}**"])
    lines = [table(['claim', 'statement', 'measure', 'difference', 'mean', '95 % CI', 'n', 'verdict'], rows,
                   text_columns=4), ""]
    if result.get('claims_not_tested'):
        lines += ["Not tested in this run:", ""]
        lines += [f"- ({entry['group']}) {entry['statement']}: {entry['reason']}."
                  for entry in result['claims_not_tested']] + [""]
    return lines


def _models_table(result: Mapping) -> list[str]:
    from .evaluation.sections import table
    rows = []
    for name, model in result['models'].items():
        train = model.get('train_seconds')
        rows.append([name, model['what'], f"`{model['solver']}`", f"{model['parameters']:,}", f"{model['kbps']:g}",
                     str(model['updates']), f"{model['batch_size']} x {model['segment_seconds']:g} s",
                     f"{train:.0f}" if train is not None else "n/a"])
    lines = [table(['model', 'what', 'solver', 'parameters', 'kbps', 'updates', 'batch x segment',
                    'training (s)'], rows, text_columns=3), ""]
    for name, model in result['models'].items():
        width = model.get('width')
        if width:
            lines += [f"`{name}`: SEANet width `seanet.n_filters={width['n_filters']}` (the recipe's is "
                      f"{width['default_n_filters']}), {width['parameters']:,} parameters against "
                      f"{width['target_parameters']:,} for `{width['target']}`.", ""]
    lines += ["Training time: the sum of the train stages of the run's epochs (its history), on the machine above, "
              f"{result['budget']['jobs']} model(s) at a time with {result['budget']['threads_per_job']} thread(s) "
              f"each; validation, evaluation and generation stages excluded.", ""]
    return lines


def _data_section(data: Mapping) -> list[str]:
    from .evaluation.sections import table
    lines = []
    if data['source'].get('debian_package'):
        package = data.get('package') or {}
        version = f" {package['version']}" if package.get('version') else ""
        lines.append(f"- Source: the Debian package `{data['source']['debian_package']}`{version} (fetched with "
                     f"`apt-get download`, unpacked with `dpkg-deb -x`, not installed).")
        licence = package.get('licence') or {}
        if licence.get('statement') or licence.get('licenses'):
            named = f" ({', '.join(licence['licenses'])})" if licence.get('licenses') else ""
            lines.append(f"- Licence, as `{licence['file']}` states it{named}: {licence.get('statement') or ''}")
        else:
            lines.append("- Licence: the package has no copyright file.")
    else:
        lines.append(f"- Source: the folder `{data['source']['folder']}`.")
    lines.append(f"- Set: `{data['set']}`, {data['sample_rate']} Hz mono; whole tracks assigned to splits by a hash "
                 f"of their path; evaluate and valid tracks cut into at most {data['clips_per_track']} clips of "
                 f"{data['clip_seconds']:g} s at evenly spaced positions, train tracks whole.")
    rows = [[split, str(entry['tracks']), str(entry['files']), f"{entry['seconds']:.1f}"]
            for split, entry in data['splits'].items()]
    return lines + ["", table(['split', 'tracks', 'files (clips or tracks)', 'seconds'], rows), "",
                    "Evaluate tracks: " + ', '.join(f"`{n}`" for n in data['splits']['evaluate']['track_names']) + ".",
                    ""]


def _machine(result: Mapping) -> list[str]:
    m = result['machine']
    gpu = f"{m['cuda']} ({m.get('gpu_memory_gib')} GiB)" if m.get('cuda') else "none"
    load = ', '.join(f"{v:.2f}" for v in m.get('load_average', []))
    before = [name for name, model in result['models'].items() if model.get('trained_before')]
    reused = f" (models trained by an earlier invocation, reused: {', '.join(before)})" if before else ""
    return [f"- CPU: {m['cpu']}, {m['cores']} cores; GPU: {gpu}; torch {m['torch']}, Python {m['python']}; load "
            f"average at the start: {load}.",
            f"- Device: {result['device']}; {result['budget']['jobs']} model(s) trained at a time, "
            f"{result['budget']['threads_per_job']} thread(s) each; wall time of this invocation (data, training, "
            f"scoring, claims): {result['wall_seconds']:.0f} s "
            f"({result['wall_seconds'] / 3600:.2f} h){reused}.", ""]


def _budget(result: Mapping) -> list[str]:
    budget = result['budget']
    return [f"- Budget (dora overrides applied to every model): `{' '.join(budget['overrides']) or '(none)'}`; "
            f"solvers: " + ', '.join(f"`{solver}` ({recipe} recipe)" for recipe, solver in budget['solvers'].items())
            + ".", f"- Metrics: {', '.join(result['metrics'])}; {result['bootstrap_resamples']} bootstrap resamples.",
            ""]


def _gpu_section(result: Mapping, gpu: Mapping | None) -> list[str]:
    lines = ["## GPU run", ""]
    if str(result['device']).startswith('cuda'):
        return lines + [f"The rows above are the GPU run: full-size models on {result['machine'].get('cuda')}.", ""]
    command = f"{PROG} --device cuda"
    if gpu is None:
        return lines + ["GPU rows: not measured yet. The full-size models (solvers "
                        f"`{SOLVERS['cuda']['seanet']}` and `{SOLVERS['cuda']['dac']}`) are trained together on one "
                        f"GPU by `{command}` (budget `{' '.join(GPU_BUDGET)}`, an estimate sized for 10 minutes on "
                        f"one H200); this section shows them once such a run's JSON is given with `--gpu-result`.",
                        ""]
    return lines + [f"`{gpu['command']}`", ""] + _machine(gpu) + _budget(gpu) + ["### Models", ""] + \
        _models_table(gpu) + ["### Claims", ""] + _claims_table(gpu)


def render_markdown(result: Mapping, gpu: Mapping | None = None) -> str:
    """The reproduction document (REPRODUCTION.md) from a run's JSON content, with a GPU run's rows from `gpu`."""
    held = {verdict: sum(row['verdict'] == verdict for row in result['claims']) for verdict in VERDICTS}
    mode = "reduced mode: a minimal budget, for tests" if result.get('reduced') else "full budget"
    lines = ["# Reproduction of the paper's claims", "",
             f"Produced by `{PROG}` on {result['date']} ({mode}).",
             "Every model is trained on the same data for the same number of updates and scored on the same "
             "held-out clips; each claim is a paired per-clip difference with its 95 % bootstrap interval "
             "(`statistics.paired_difference`).", "",
             "## How to reproduce", "", "```bash", result['command'], "```", "",
             f"Run from the repository root. A killed run resumes when the same command is run again (dora restarts "
             f"each model from its last checkpoint; finished models and scores are kept). `{PROG} --plan` prints the "
             f"runs without training; `{PROG} --device cuda` trains the full-size models on a GPU.", "",
             "## Machine", ""] + _machine(result) + _budget(result)
    lines += ["## Data", ""] + _data_section(result['data'])
    lines += ["## Models", ""] + _models_table(result)
    lines += ["## Claims", "",
              f"{held['held']} held, {held['not held']} not held, {held['inconclusive']} inconclusive, out of "
              f"{len(result['claims'])} rows. Difference: per clip, the first minus the second, on the same clips; "
              f"held when the 95 % interval lies on the better side of 0 (above it for ↑ measures, below for ↓), not "
              f"held when it lies on the worse side, inconclusive when it contains 0. n: clips paired. Full report: "
              f"`{result['report']}`.", ""]
    lines += [f"- ({group}) {title}." for group, title in result['claim_groups'].items()] + [""]
    lines += _claims_table(result)
    lines += _gpu_section(result, gpu)
    return '\n'.join(lines)


# ---- command line ----------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=sorted(SOLVERS), default='cpu',
                        help="cpu: tiny models (default); cuda: full-size models, all trained at once on one GPU")
    parser.add_argument('--models', default=','.join(DEFAULT_MODELS),
                        help=f"comma-separated models among {', '.join(MODELS)} (default: all but dac_16k_dac_recipe)")
    parser.add_argument('--jobs', type=int, help="models trained (and scored) at a time (default: 2 on cpu, "
                        "every model on cuda)")
    parser.add_argument('--work', type=Path, default=REPO / 'outputs' / 'reproduce',
                        help="folder of the audio, the set, the runs, the models and the report (default: %(default)s)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--folder', type=Path, help="folder of recordings to use instead of the Debian package")
    source.add_argument('--debian-package', default=DEFAULT_PACKAGE, help="Debian package of recorded music "
                        "(default: %(default)s)")
    parser.add_argument('--deb', type=Path, help="an already downloaded .deb of the package, or the folder holding it")
    parser.add_argument('--max-tracks', type=int, help="use at most this many tracks")
    parser.add_argument('--clip-seconds', type=float, help=f"evaluate and valid clip length (default: {CLIP_SECONDS:g};"
                        f" {REDUCED_SET['clip_seconds']:g} with --reduced)")
    parser.add_argument('--clips-per-track', type=int, help=f"clips per evaluate or valid track (default: "
                        f"{CLIPS_PER_TRACK}; {REDUCED_SET['clips_per_track']} with --reduced)")
    parser.add_argument('--metrics', help=f"comma-separated metrics of the comparisons (default: "
                        f"{','.join(CLAIM_METRICS)}; without visqol with --reduced)")
    parser.add_argument('--bootstrap-resamples', type=int, help=f"resamples of every interval (default: "
                        f"{BOOTSTRAP_RESAMPLES}; {REDUCED_RESAMPLES} with --reduced)")
    parser.add_argument('--reduced', action='store_true', help="minimal budget and set, no ViSQOL (tests)")
    parser.add_argument('--plan', '--dry-run', action='store_true', dest='plan',
                        help="print the runs (models, overrides, parameters, updates) and exit without training")
    parser.add_argument('--prepare-only', action='store_true', help="build the data set and exit")
    parser.add_argument('--json', type=Path, help="result file (default: <work>/reproduction.json, "
                        "<work>/cuda/reproduction.json on cuda)")
    parser.add_argument('--markdown', type=Path, help="document (default: <work>/REPRODUCTION.md, "
                        "<work>/cuda/REPRODUCTION.md on cuda)")
    parser.add_argument('--render-from', type=Path, metavar='JSON',
                        help="write the Markdown of an earlier run's JSON and exit")
    parser.add_argument('--gpu-result', type=Path, metavar='JSON',
                        help="JSON of a --device cuda run, shown in the document's GPU section")
    parser.add_argument('overrides', nargs='*', help="dora overrides applied to every model (the budget), e.g. "
                        "cascade.branch_phase=8 cascade.joint_phase=8")
    return parser


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Validate the command line (exit 2 with a message on a bad value) and fill in the mode's defaults."""
    args.models = [name.strip() for name in args.models.split(',') if name.strip()]
    unknown = [name for name in args.models if name not in MODELS]
    if unknown or not args.models:
        parser.error(f"unknown model(s) {', '.join(unknown) or '(none given)'}; choose among {', '.join(MODELS)}")
    if len(set(args.models)) != len(args.models):
        parser.error(f"--models names a model twice: {', '.join(args.models)}")
    if args.jobs is None:
        args.jobs = len(args.models) if args.device == 'cuda' else 2
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    for name in ('max_tracks', 'clips_per_track', 'bootstrap_resamples'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.max_tracks is not None and args.max_tracks < 3:
        parser.error(f"--max-tracks must be at least 3 (one track per split), got {args.max_tracks}")
    if args.clip_seconds is not None and not args.clip_seconds > 0:
        parser.error(f"--clip-seconds must be positive, got {args.clip_seconds}")
    if args.folder is not None and not args.folder.is_dir():
        parser.error(f"--folder {str(args.folder)!r} is not a folder")
    if args.deb is not None and not args.deb.exists():
        parser.error(f"--deb {str(args.deb)!r} does not exist")
    for path in (args.render_from, args.gpu_result):
        if path is not None and not path.is_file():
            parser.error(f"{str(path)!r} is not a file")
    bad = [override for override in args.overrides if '=' not in override]
    if bad:
        parser.error(f"{' '.join(bad)}: not a dora override (key=value), e.g. cascade.branch_phase=8")
    defaults = REDUCED_SET if args.reduced else {'clip_seconds': CLIP_SECONDS, 'clips_per_track': CLIPS_PER_TRACK}
    args.clip_seconds = args.clip_seconds if args.clip_seconds is not None else defaults['clip_seconds']
    args.clips_per_track = args.clips_per_track or defaults['clips_per_track']
    args.bootstrap_resamples = args.bootstrap_resamples or (REDUCED_RESAMPLES if args.reduced else BOOTSTRAP_RESAMPLES)
    from .evaluation.metrics import resolve_metrics
    default_metrics = [m for m in CLAIM_METRICS if not (args.reduced and m == 'visqol')]
    try:
        args.metrics = resolve_metrics(args.metrics or default_metrics)
    except ValueError as error:
        parser.error(str(error))
    if args.device == 'cuda' and not (args.plan or args.prepare_only or args.render_from):
        import torch
        if not torch.cuda.is_available():
            parser.error("--device cuda was asked for but CUDA is not available here; use --device cpu, or --plan "
                         "to see the GPU runs")


def _budget_overrides(args: argparse.Namespace) -> list[str]:
    """The mode's budget with the command line's overrides on top (a key given there replaces the mode's)."""
    base = REDUCED_BUDGET if args.reduced else GPU_BUDGET if args.device == 'cuda' else CPU_BUDGET
    given = {override.split('=', 1)[0] for override in args.overrides}
    return [o for o in base if o.split('=', 1)[0] not in given] + list(args.overrides)


def _print_plan(runs: Sequence[Run], args: argparse.Namespace, dataset_root: Path, threads: int) -> None:
    print(f"{PROG}: {len(runs)} model(s) on {args.device}, {args.jobs} at a time with {threads} thread(s) each; "
          f"data set {dataset_root}")
    print(f"{'model':20s} {'parameters':>12s} {'kbps':>5s} {'updates':>8s}  batch x segment")
    for run in runs:
        r = run.row
        print(f"{run.name:20s} {r['parameters']:12,d} {r['kbps']:5g} {r['updates']:8d}  {r['batch_size']} x "
              f"{r['segment_seconds']:g} s")
        if run.width:
            print(f"{'':20s} seanet.n_filters={run.width['n_filters']} ({run.width['parameters']:,} parameters; "
                  f"{run.width['target']}: {run.width['target_parameters']:,})")
    print("\ncommands:")
    for run in runs:
        print(f"  python -m dora run {shlex.join(run.overrides)}")


def _write(path: Path, text: str) -> None:
    from .utils.atomic import atomic_write_bytes
    atomic_write_bytes(path, text.encode(), overwrite=True)
    print(f"written to {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 on success, 1 when a step fails, 2 on bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    work = args.work.resolve()
    results = work / 'cuda' if args.device == 'cuda' else work  # a GPU run keeps its models and reports apart
    json_path = args.json or results / 'reproduction.json'
    markdown_path = args.markdown or results / 'REPRODUCTION.md'
    gpu = json.loads(args.gpu_result.read_text()) if args.gpu_result else None
    if args.render_from is not None:
        _write(markdown_path, render_markdown(json.loads(args.render_from.read_text()), gpu))
        return 0
    command = shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)])
    began = time.time()
    from .utils.machine import machine
    described_machine = machine()
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    folder = args.folder.resolve() if args.folder is not None else None
    source = {'folder': str(folder)} if folder is not None else {'debian_package': args.debian_package}
    dataset_root = set_folder(work, source, args.clip_seconds, args.clips_per_track, args.max_tracks)
    budget = _budget_overrides(args)
    shared = ['dset=folder', f'dataset_root={dataset_root}', *budget]
    try:
        if args.plan:
            _print_plan(make_plan(args.models, shared, args.device), args, dataset_root, threads)
            return 0
        work.mkdir(parents=True, exist_ok=True)
        data = prepare_data(work, folder, args.debian_package, args.deb, args.clip_seconds, args.clips_per_track,
                            args.max_tracks)
        print(f"data set {data['set']}: " + ', '.join(f"{split} {entry['files']} file(s), {entry['seconds']:.0f} s"
                                                      for split, entry in data['splits'].items()), flush=True)
        if args.prepare_only:
            return 0
        runs = make_plan(args.models, shared, args.device)
        launch = [f'num_threads={threads}', f'device={args.device}']
        env = {'PYTORCH_CUDA_ALLOC_CONF': 'expandable_segments:True'} if args.device == 'cuda' else None
        train_all(runs, work / 'dora', results / 'logs', args.jobs, launch, env)

        from .export import export_checkpoint
        checkpoints = {run.name: export_checkpoint(run.record['experiment'], results / 'models' / f'{run.name}.th')
                       for run in runs}
        manifest = Path(data['set']) / 'evaluate' / 'data.jsonl'
        print(f"scoring {len(runs)} model(s) on {data['splits']['evaluate']['files']} evaluate clips "
              f"({', '.join(args.metrics)})", flush=True)
        reports = score_all(checkpoints, manifest, results / 'report', args.metrics, args.device,
                            args.bootstrap_resamples, args.jobs, threads)
        baseline = 'bandsplit' if 'bandsplit' in args.models else args.models[0]
        report = merge_reports(reports, results / 'report', command, baseline, args.bootstrap_resamples)
    except (ReproductionError, MusicSetError, DoraRunError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume (finished models and scores are kept)",
              file=sys.stderr)
        return 130
    rows, not_tested = assemble_claims(report, CLAIMS, args.bootstrap_resamples)
    result = {
        'command': command, 'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        'device': args.device, 'reduced': args.reduced, 'machine': described_machine, 'data': data,
        'budget': {'overrides': budget, 'solvers': SOLVERS[args.device], 'jobs': args.jobs,
                   'threads_per_job': threads, 'launch': launch},
        'models': {run.name: {'what': run.model.what, 'recipe': run.model.recipe,
                              'solver': SOLVERS[args.device][run.model.recipe], 'overrides': run.overrides,
                              'parameters': report['models'][run.name]['info']['parameters'],
                              'kbps': report['models'][run.name]['info']['bandwidth_kbps'],
                              'sample_rate': run.row['sample_rate'], 'updates': run.row['updates'],
                              'phases': run.row['phases'], 'batch_size': run.row['batch_size'],
                              'segment_seconds': run.row['segment_seconds'], 'width': run.width, **run.record}
                   for run in runs},
        'metrics': list(args.metrics), 'bootstrap_resamples': args.bootstrap_resamples,
        'evaluate_clips': report['data']['num_clips'], 'report': str(results / 'report' / 'report.md'),
        'claim_groups': CLAIM_GROUPS, 'claims': rows, 'claims_not_tested': not_tested,
        'gpu_result': str(args.gpu_result) if args.gpu_result else None,
        'wall_seconds': round(time.time() - began, 1),
    }
    from .utils.atomic import atomic_write_bytes
    atomic_write_bytes(json_path, (json.dumps(result, indent=2, allow_nan=False) + '\n').encode(), overwrite=True)
    print(f"written to {json_path}")
    _write(markdown_path, render_markdown(result, gpu))
    for row in rows:
        print(f"({row['group']}) {row['statement']}, {row['measure']}: {_number(row['mean'])} "
              f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}] n={row['n']} -> {row['verdict']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
