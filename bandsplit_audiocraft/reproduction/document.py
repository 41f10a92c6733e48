"""The reproduction document (REPRODUCTION.md) from a run's JSON content."""

from collections.abc import Mapping

from .claims import VERDICTS
from .plan import GPU_BUDGET, PROG, SOLVERS

# ---- Markdown --------------------------------------------------------------------------------------------------

def number(value: float | None) -> str:
    from ..evaluation.sections import fmt
    return fmt(value)


def _claims_table(result: Mapping) -> list[str]:
    from ..evaluation.sections import table
    rows = []
    for row in result['claims']:
        arrow = '↑' if row['higher_is_better'] else '↓'
        interval = f"[{number(row['ci_low'])}, {number(row['ci_high'])}]"
        rows.append([f"{row['group']}", row['statement'], f"{row['label']} {arrow}", f"`{row['difference']}`",
                     number(row['mean']), interval, str(row['n']), f"**{row['verdict']}**"])
    lines = [table(['claim', 'statement', 'measure', 'difference', 'mean', '95 % CI', 'n', 'verdict'], rows,
                   text_columns=4), ""]
    if result.get('claims_not_tested'):
        lines += ["Not tested in this run:", ""]
        lines += [f"- ({entry['group']}) {entry['statement']}: {entry['reason']}."
                  for entry in result['claims_not_tested']] + [""]
    return lines


def _models_table(result: Mapping) -> list[str]:
    from ..evaluation.sections import table
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
    jobs = result['budget']['jobs']
    lines += ["Training time: the sum of the train stages of the run's epochs (its history), on the machine above, "
              f"{jobs} model(s) at a time with {result['budget']['threads_per_job']} thread(s) "
              f"each; validation, evaluation and generation stages excluded."]
    stages = [model['stage_seconds'] for model in result['models'].values() if model.get('stage_seconds')]
    if len(stages) == len(result['models']):
        total = sum(stages)
        lines[-1] += (f" With every stage the solvers ran (validation; evaluation and generation at their `every` "
                      f"epochs but not at the last, which the scoring below replaces) the models took {total:.0f} s in "
                      f"all: {total / jobs / 3600:.2f} h of wall time at {jobs} at a time with no slot idle.")
    return lines + [""]
    return lines


def _data_section(data: Mapping) -> list[str]:
    from ..evaluation.sections import table
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
                        f"`{SOLVERS['full']['seanet']}` and `{SOLVERS['full']['dac']}`) are trained together on one "
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
