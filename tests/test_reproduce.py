"""The reproduction command: claims assembled from per-clip values with paired differences, the plans of the CPU and
GPU modes, clear errors for bad input, and one reduced run end to end (real `dora run`s on synthetic music)."""
import json

import numpy as np
import pytest

from bandsplit_audiocraft import reproduce
from bandsplit_audiocraft.baselines import describe_run
from bandsplit_audiocraft.evaluation.metrics import METRICS
from bandsplit_audiocraft.reproduction import claims, plan

METRIC_NAMES = ['mel_distance', 'si_sdr']
CLIPS = 8


def values(base: float, step: float = 0.0) -> list:
    return [base + step * i + 0.01 * (i % 3) for i in range(CLIPS)]


def band_split_entry(low: dict, full: dict, bands: tuple = (1.0, 5.0), inpainting: tuple = (1.0, 2.0)) -> dict:
    """A band-split model's report entry: metrics at its two operating points, band analysis, inpainting."""
    lower, upper = bands
    return {
        'info': {'sample_rate': 32000, 'branch_rates': [16000, 32000]},
        'signals': {'low': 'U(d16)', 'high': 'd32', 'output': 'y32', 'input': 's32'},
        'operating_points': {'16000': {'bandwidth_kbps': 2.0, 'per_clip': low},
                             '32000': {'bandwidth_kbps': 4.0, 'per_clip': full}},
        'band_analysis': {'applicable': True, 'bands': ['0-8000', '8000-16000'], 'per_clip': {
            'high': {'sdr': {'0-8000': values(lower, 0.1), '8000-16000': values(upper, 0.2)}}}},
        'inpainting': {'applicable': True, 'per_clip': {'systems': {
            'band_split': {'mel_distance': values(inpainting[0], 0.05)},
            'upsampled_low': {'mel_distance': values(inpainting[1], 0.02)}}}},
    }


def single_entry(rate: int, per_clip: dict) -> dict:
    return {'info': {'sample_rate': rate},
            'operating_points': {str(rate): {'bandwidth_kbps': 4.0, 'per_clip': per_clip}},
            'band_analysis': {'applicable': False}, 'inpainting': {'applicable': False}}


def scores(mel: list, si_sdr: list) -> dict:
    return {'mel_distance': mel, 'si_sdr': si_sdr}


def synthetic_report() -> dict:
    """bandsplit better than dac_32k on every clip, equal to seanet_32k, worse than seanet_32k_params."""
    full = scores(values(1.0, 0.03), values(5.0, 0.2))
    mel, sdr = full['mel_distance'], full['si_sdr']
    return {'metrics': METRIC_NAMES, 'models': {
        'bandsplit': band_split_entry(scores(values(1.2), values(3.0)), full),
        'dac_32k': single_entry(32000, scores([m + 0.2 + 0.01 * i for i, m in enumerate(mel)],
                                              [s - 1.0 - 0.1 * i for i, s in enumerate(sdr)])),
        'seanet_32k': single_entry(32000, scores(list(mel), list(sdr))),
        'seanet_32k_params': single_entry(32000, scores([m - 0.3 - 0.01 * i for i, m in enumerate(mel)],
                                                        [s + 2.0 + 0.1 * i for i, s in enumerate(sdr)])),
    }}


def rows_of(rows: list, other: str) -> dict:
    return {row['measure']: row for row in rows if row['other'] == other}


def test_claims_from_per_clip_values():
    rows, not_tested = claims.assemble_claims(synthetic_report(), resamples=999)
    better, equal, worse = (rows_of(rows, name) for name in ('dac_32k', 'seanet_32k', 'seanet_32k_params'))
    assert set(better) == set(equal) == set(worse) == set(METRIC_NAMES)
    assert all(row['verdict'] == 'held' for row in better.values())
    assert all(row['verdict'] == 'inconclusive' and row['mean'] == 0 for row in equal.values())
    assert all(row['verdict'] == 'not held' for row in worse.values())
    for row in rows:
        assert row['n'] == CLIPS and row['verdict'] in claims.VERDICTS
        assert row['ci_low'] <= row['mean'] <= row['ci_high']
    # Differences are "claimed model minus the other", in the metric's own direction.
    assert better['mel_distance']['mean'] < 0 and not better['mel_distance']['higher_is_better']
    assert better['si_sdr']['mean'] > 0 and better['si_sdr']['higher_is_better'] is METRICS['si_sdr'].higher_is_better
    assert better['mel_distance']['statement'] == "bandsplit better than dac_32k at 32 kHz / 4 kbps"
    assert better['mel_distance']['operating_point'] == '32000'
    band = next(row for row in rows if row['kind'] == 'bands')
    assert band['verdict'] == 'held' and band['mean'] > 0 and band['difference'] == '8-16 kHz - 0-8 kHz'
    inpainting = next(row for row in rows if row['kind'] == 'inpainting')
    assert inpainting['verdict'] == 'held' and inpainting['mean'] < 0
    # Claims whose models were not scored are listed with the reason, not guessed.
    untested = {(entry['group'], entry['statement']) for entry in not_tested}
    assert ('b', 'bandsplit better than seanet_16k at 16 kHz / 2 kbps') in untested
    assert all('not scored in this run' in entry['reason'] for entry in not_tested
               if entry['statement'].startswith('bandsplit better than'))
    assert {entry['group'] for entry in not_tested} >= {'b', 'e'}


def test_claim_verdicts_follow_the_interval():
    """A band split whose high branch does better below the crossover: the band claim is not held; equal
    inpainting systems: inconclusive."""
    report = synthetic_report()
    report['models']['bandsplit'] = band_split_entry({}, report['models']['bandsplit']['operating_points']['32000']
                                                     ['per_clip'], bands=(6.0, 1.0), inpainting=(2.0, 2.0))
    report['models']['bandsplit']['inpainting']['per_clip']['systems']['upsampled_low'] = \
        report['models']['bandsplit']['inpainting']['per_clip']['systems']['band_split']
    rows, _ = claims.assemble_claims(report, [claims.Claim('c', 'bands', 'bandsplit'),
                                                 claims.Claim('d', 'inpainting', 'bandsplit')], resamples=999)
    assert [row['verdict'] for row in rows] == ['not held', 'inconclusive']


def test_width_matching_the_parameter_count():
    overrides = plan.run_overrides(plan.MODELS['seanet_32k_params'], [], 'tiny')
    target = describe_run('bandsplit', plan.run_overrides(plan.MODELS['bandsplit'], [], 'tiny'))
    width = plan.matching_width(target['parameters'], overrides)
    assert isinstance(width['n_filters'], int) and width['n_filters'] > width['default_n_filters']
    for neighbour in (width['n_filters'] - 1, width['n_filters'] + 1):
        count = describe_run('w', [*overrides, f'seanet.n_filters={neighbour}'])['parameters']
        assert abs(count - target['parameters']) >= abs(width['parameters'] - target['parameters'])


@pytest.mark.parametrize('device, solvers', [('cpu', ('bandsplit_codec/tiny', 'bandsplit_codec/dac_recipe_tiny')),
                                             ('cuda', ('bandsplit_codec', 'bandsplit_codec/dac_recipe'))])
def test_plan_composes_every_run_with_equal_updates(device, solvers, tmp_path, capsys):
    models = 'bandsplit,bandsplit_joint,seanet_16k,dac_32k_dac_recipe'
    assert reproduce.main(['--plan', '--device', device, '--models', models, '--work', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    size = 'full' if device == 'cuda' else 'tiny'
    assert f"4 {size} model(s) on {device}" in out and not (tmp_path / 'dora').exists()
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith('python -m dora run')]
    assert len(commands) == 4
    assert all(f'solver={solvers[0]} ' in c for c in commands[:3]) and f'solver={solvers[1]} ' in commands[3]
    assert 'cascade.regime=joint' in commands[1] and 'model=bandsplit/dac_32k' in commands[3]
    budget = plan.GPU_BUDGET if device == 'cuda' else plan.CPU_BUDGET
    assert all(override in commands[0] for override in budget)
    rows = [line.split() for line in out.splitlines() if line.split()[:1] and line.split()[0] in models.split(',')]
    assert len(rows) == 4 and len({row[3] for row in rows}) == 1  # the same number of updates for every model


@pytest.mark.parametrize('argv, message', [
    (['--folder', '/nonexistent/music'], "is not a folder"),
    (['--models', 'bandsplit,wavenet'], "unknown model(s) wavenet"),
    (['--jobs', '0'], "--jobs must be at least 1"),
    (['cascade.branch_phase'], "not a dora override"),
    (['--metrics', 'mel_distance,loudness'], "loudness"),
])
def test_bad_input_is_a_clear_error(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main([*argv, '--work', str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err


@pytest.mark.parametrize('content', ['{"claims": []}', 'not json', '[1, 2]'])
def test_render_from_something_else_is_a_clear_error(content, tmp_path, capsys):
    other = tmp_path / 'other.json'
    other.write_text(content)
    assert reproduce.main(['--render-from', str(other), '--markdown', str(tmp_path / 'R.md')]) == 1
    err = capsys.readouterr().err
    assert str(other) in err and 'Traceback' not in err and not (tmp_path / 'R.md').exists()


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(['--device', 'cuda', '--work', str(tmp_path)])
    assert exit_info.value.code == 2 and 'CUDA is not available' in capsys.readouterr().err


def write_music(folder, tracks: int = 4, seconds: float = 6.0) -> None:
    """Synthetic music 'tracks' at 32 kHz (mixtures, melodies, drums), as WAV files."""
    from bandsplit_audiocraft.data.audio_io import write_wav
    from bandsplit_audiocraft.data.synthesis import synth_clip
    kinds = ['mixture', 'melody', 'drums']
    for i in range(tracks):
        wav = synth_clip(kinds[i % len(kinds)], seconds, 32000, np.random.default_rng(i))
        write_wav(folder / f'track{i}.wav', wav, 32000)


@pytest.mark.slow
def test_reduced_run_end_to_end(tmp_path):
    music, work = tmp_path / 'music', tmp_path / 'work'
    write_music(music)
    models = ['bandsplit', 'bandsplit_joint', 'seanet_16k']
    argv = ['--reduced', '--folder', str(music), '--work', str(work), '--models', ','.join(models), '--jobs', '3']
    assert reproduce.main(argv) == 0
    result = json.loads((work / 'reproduction.json').read_text())
    clips = result['data']['splits']['evaluate']['files']
    assert clips == plan.REDUCED_SET['clips_per_track'] and result['evaluate_clips'] == clips
    assert result['data']['source'] == {'folder': str(music.resolve())}
    assert set(result['models']) == set(models)
    assert len({model['updates'] for model in result['models'].values()}) == 1
    for model in result['models'].values():
        assert model['parameters'] > 0 and model['train_seconds'] > 0 and model['kbps'] > 0
    assert result['models']['seanet_16k']['kbps'] == result['models']['bandsplit']['kbps'] / 2
    rows = result['claims']
    assert {row['group'] for row in rows} == {'b', 'c', 'd', 'e'}
    for row in rows:
        assert row['n'] == clips and row['verdict'] in claims.VERDICTS
        assert all(isinstance(row[key], float) for key in ('mean', 'ci_low', 'ci_high'))
    assert {row['measure'] for row in rows if row['group'] == 'e'} == set(result['metrics'])
    assert 'visqol' not in result['metrics']
    assert {entry['group'] for entry in result['claims_not_tested']} == {'a', 'b', 'c', 'd'}
    markdown = (work / 'REPRODUCTION.md').read_text()
    for row in rows:
        assert row['statement'] in markdown
    assert '## GPU run' in markdown and 'not measured yet' in markdown
    assert (work / 'report' / 'report.md').is_file()

    # Run again: every model is trained and scored already, and the claims come out the same.
    assert reproduce.main(argv) == 0
    again = json.loads((work / 'reproduction.json').read_text())
    assert [row['mean'] for row in again['claims']] == [row['mean'] for row in rows]
    assert all('wall_seconds_this_invocation' not in model for model in again['models'].values())


@pytest.mark.slow
def test_reduced_run_of_the_full_size_models_on_cpu(tmp_path):
    """The GPU run's models and budget (`--size full`, the default on cuda), trained a few updates on CPU (batches
    of 2 instead of 8, so that the full-size DAC-branch codec fits a small machine's memory)."""
    music, work = tmp_path / 'music', tmp_path / 'work'
    write_music(music, tracks=3, seconds=4.0)
    models = ['bandsplit', 'bandsplit_dac']
    argv = ['--reduced', '--size', 'full', '--folder', str(music), '--work', str(work), '--models', ','.join(models),
            'dataset.batch_size=2']
    assert reproduce.main(argv) == 0
    result = json.loads((work / 'cpu_full' / 'reproduction.json').read_text())
    assert result['device'] == 'cpu' and result['size'] == 'full'
    assert result['budget']['solvers'] == plan.SOLVERS['full']
    reduced = dict(override.split('=', 1) for override in [*plan.REDUCED_BUDGET, argv[-1]])
    for override in plan.GPU_BUDGET:  # the GPU budget, with the reduced mode's or the command line's values on top
        key, value = override.split('=', 1)
        assert f"{key}={reduced.get(key, value)}" in result['budget']['overrides']
    tiny = plan.make_plan(models, [], 'tiny')
    for run in tiny:
        model = result['models'][run.name]
        assert model['solver'] == plan.SOLVERS['full'][run.model.recipe]
        assert model['parameters'] > 10 * run.row['parameters']  # the full-size networks, not the tiny ones
        assert model['updates'] == 3 and model['train_seconds'] > 0
    assert {row['group'] for row in result['claims']} == {'c', 'd'}
    assert not (work / 'reproduction.json').exists()  # the tiny CPU run's place is left alone
