"""Training and scoring of the reproduction's runs (`plan.Run`): every model trained with `dora run`, resumed when
interrupted, exported and scored by the evaluation report on the same clips, its scores kept and reused; the
reports merged into one."""

from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
import datetime
import json
import multiprocessing
from pathlib import Path
import typing as tp

from ..data.music import SAMPLE_RATE
from ..utils.dora import DoraRunError, experiment_folder, run_all
from .plan import PROG, ReproductionError, Run

# ---- training --------------------------------------------------------------------------------------------------

def history(folder: Path) -> list[dict]:
    """The epochs an experiment has finished (its `history.json`), none for one not started."""
    path = folder / 'history.json'
    return json.loads(path.read_text()) if path.is_file() else []


def total_epochs(overrides: Sequence[str]) -> int:
    """The epochs of the experiment `overrides` define (every phase of its schedule)."""
    from ..configs import compose
    from ..solvers.schedule import Schedule
    return Schedule.from_experiment(compose(overrides)).total_epochs


def train_all(runs: Sequence[Run], dora_dir: Path, logs: Path, jobs: int, launch: Sequence[str],
              env: Mapping[str, str] | None = None) -> None:
    """Train every run not finished yet with `dora run`, `jobs` at a time (with the extra overrides `launch`), and
    fill each run's `record`: experiment folder, epochs, training seconds (summed from its history), whether it
    was trained before this call, the wall seconds of this call and whether it resumed an interrupted run. The
    runs of DAC's recipe start first. A failed run does not stop the others.

    Raises:
        ReproductionError: Some run failed (after the others ended); the message quotes the end of its log.
    """
    pending: dict[str, Run] = {}
    for run in runs:
        folder = experiment_folder(run.overrides, dora_dir)
        run.record.update(experiment=str(folder), epochs=total_epochs(run.overrides))
        done = len(history(folder))
        run.record['trained_before'] = done >= run.record['epochs']
        if run.record['trained_before']:
            print(f"{run.name}: trained already ({folder})", flush=True)
        else:
            run.record['resumed'] = done > 0
            pending[run.name] = run
    # The runs of DAC's recipe first: with its discriminators they cost several times more per update than the
    # others, and a long run started last would leave the other job slots idle at the end.
    order = sorted(pending, key=lambda name: pending[name].model.recipe != 'dac')
    try:
        seconds = run_all({name: [*pending[name].overrides, *launch] for name in order}, jobs,
                          dora_dir=dora_dir, env=env, logs={name: logs / f'{name}.log' for name in pending})
    except DoraRunError as error:
        raise ReproductionError(f"{error}\nRun the same command again to resume: finished models are kept.") from None
    finally:
        for run in runs:
            stages = history(Path(run.record['experiment']))
            run.record['train_seconds'] = round(sum(h.get('train', {}).get('duration', 0.) for h in stages), 1)
            run.record['stage_seconds'] = round(sum(stage.get('duration', 0.) for h in stages
                                                    for stage in h.values() if isinstance(stage, dict)), 1)
    for name, wall in seconds.items():
        pending[name].record['wall_seconds_this_invocation'] = wall


# ---- scoring ---------------------------------------------------------------------------------------------------

def scoring_stamp(checkpoint: str, manifest: str, metrics: Sequence[str], device: str, resamples: int) -> dict:
    """What a model's scores depend on: its weights (`export.model_id`), the clips, the metrics, the device and the
    resamples; kept beside its report, so that the same scoring is not done twice."""
    from ..export import model_id
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

    from ..evaluation.dataset import load_evaluation_set
    from ..evaluation.report import make_report
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
    from ..evaluation.markdown import render_markdown
    from ..evaluation.report import paired_against
    from ..utils.atomic import atomic_write_bytes
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
