"""The benchmark scripts run in their reduced mode and write results of the documented structure.

Figures are not checked (timings depend on the machine); the structure, the programs compared and the
internal consistency of the numbers (ratios are quotients of the reported times) are.
"""
import json
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_script(script: str, out: Path, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, str(REPO / 'bench' / script), '--quick', '--out', str(out), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'written to {out}' in proc.stdout
    return json.loads(out.read_text())


@pytest.mark.slow
def test_inference_speed_quick(tmp_path):
    result = run_script('inference_speed.py', tmp_path / 'speed.json')
    assert result['threads'] == 2 and result['machine']['cores'] >= 1
    assert set(result['cases']) == {'1s_batch1', '1s_batch2', '3s_batch1'}
    for name, case in result['cases'].items():
        programs = case['programs']
        assert set(programs) == {'bandsplit', 'deployed', 'bandsplit_bf16', 'seanet_32k', 'encodec'}, name
        for program, figures in programs.items():
            assert 'error' not in figures, (name, program, figures)
            assert figures['encode_s'] > 0 and figures['decode_s'] > 0
            assert figures['round_trip_s'] == pytest.approx(figures['encode_s'] + figures['decode_s'])
            assert figures['round_trip_rtf'] == pytest.approx(case['seconds'] * case['batch'] / figures['round_trip_s'])
        trip = {p: v['round_trip_s'] for p, v in programs.items()}
        assert case['ratios']['bandsplit_over_seanet_32k'] == pytest.approx(trip['bandsplit'] / trip['seanet_32k'])
        assert case['ratios']['bandsplit_over_encodec'] == pytest.approx(trip['bandsplit'] / trip['encodec'])
        assert case['ratios']['deployed_over_encodec'] == pytest.approx(trip['deployed'] / trip['encodec'])
        assert case['ratios']['bandsplit_bf16_over_encodec'] == pytest.approx(trip['bandsplit_bf16'] / trip['encodec'])
    for name in ('1s_batch1', '1s_batch2'):
        case = result['cases'][name]
        assert all(v['one_pass_s'] > 0 for v in case['programs'].values())
        assert case['one_pass_ratios']['bandsplit_over_seanet_32k'] == pytest.approx(
            case['programs']['bandsplit']['one_pass_s'] / case['programs']['seanet_32k']['one_pass_s'])
        assert case['one_pass_ratios']['deployed_over_encodec'] == pytest.approx(
            case['programs']['deployed']['one_pass_s'] / case['programs']['encodec']['one_pass_s'])
    long = result['cases']['3s_batch1']['programs']
    assert long['bandsplit']['path'] == long['deployed']['path'] == long['bandsplit_bf16']['path'] == 'chunked'
    assert long['encodec']['path'] == 'whole signal'
    assert all(v['peak_rss_above_baseline'] >= 0 for v in long.values())
    assert set(result['targets']) >= {'bandsplit_over_seanet_32k <= 1.5', 'bandsplit_over_encodec <= 1',
                                      'bandsplit round trip >= 10x real time', 'deployed_over_encodec <= 1',
                                      'deployed round trip >= 10x real time', 'deployed one pass >= 10x real time',
                                      'bandsplit_bf16_over_encodec <= 1', 'bandsplit_bf16 round trip >= 10x real time'}


@pytest.mark.slow
def test_training_cost_quick(tmp_path):
    result = run_script('training_cost.py', tmp_path / 'cost.json')
    runs = result['runs']
    assert set(runs) == {'cascade', 'joint', 'seanet_32k', 'dac_32k'}
    assert list(runs['cascade']['phases']) == ['low', 'high', 'joint']
    for name in ('joint', 'seanet_32k', 'dac_32k'):
        assert list(runs[name]['phases']) == ['joint'], name
        # A one-phase run lasts as many updates as the whole cascade.
        assert runs[name]['updates'] == runs['cascade']['updates'] == 3 * 2 * 2
    for r in runs.values():
        for phase in r['phases'].values():
            assert phase['seconds_per_update'] > 0 and len(phase['all_epochs']) == phase['epochs']
    assert result['cascade_total_seconds'] == pytest.approx(
        sum(p['seconds_per_update'] * p['epochs'] * 2 for p in runs['cascade']['phases'].values()))
    for c in result['comparison'].values():
        assert c['cascade_over_this'] == pytest.approx(result['cascade_total_seconds'] / c['same_updates_seconds'])


@pytest.mark.slow
def test_profile_components_quick(tmp_path):
    result = run_script('profile_components.py', tmp_path / 'profile.json')
    t = result['seconds_per_component']
    assert set(t) >= {'encoder_16k', 'encoder_32k', 'decoder_16k', 'decoder_32k', 'resample_down', 'resample_up',
                      'encode', 'decode', 'encode_without_weight_norm', 'decode_without_weight_norm'}
    assert all(v > 0 for v in t.values())
    s = result['structural']
    assert s['encode'] == pytest.approx(t['encoder_16k'] + t['decoder_16k'] + t['encoder_32k'])
    assert s['ratio_encode_plus_decode'] == pytest.approx((s['encode'] + s['decode']) / s['single_branch_32k'])
    graphs = result['deployed']['graphs']
    assert set(graphs) == {'encoder_16k', 'decoder_16k', 'encoder_32k', 'decoder_32k'}
    for name, graph in graphs.items():
        assert graph['seconds'] > 0 and 'Conv' in graph['operators'], name
        assert 0 < sum(graph['operators'].values()) <= graph['seconds'] * 1.01, name  # kernels run one at a time
    trip = result['deployed']['round_trip']
    assert trip['graphs'] == ['encoder_16k', 'decoder_16k', 'encoder_32k', 'decoder_16k', 'decoder_32k']
    assert trip['seconds'] == pytest.approx(sum(graphs[name]['seconds'] for name in trip['graphs']))
    assert trip['operators']['Conv']['seconds'] == pytest.approx(
        sum(graphs[name]['operators']['Conv'] for name in trip['graphs']))


def test_startup_quick(tmp_path):
    result = run_script('startup.py', tmp_path / 'startup.json')
    assert set(result['commands']) == {'help', 'info', 'compress', 'decompress'}
    for figures in result['commands'].values():
        assert len(figures['runs']) == 1 and figures['median_s'] == figures['runs'][0] > 0
    for name, target in result['targets'].items():
        command, limit = name.split(' < ')
        assert target['median_s'] == result['commands'][command]['median_s']
        assert target['met'] == (target['median_s'] < float(limit.removesuffix(' s')))


def test_precision_quality(tiny_model, tmp_path, capsys):
    """In this process (the script's imports are this suite's): a tiny exported model on three clips."""
    from bandsplit_audiocraft.configs import model_config
    from bandsplit_audiocraft.data.audio_io import write_wav
    from bandsplit_audiocraft.export import export_model
    from bench import precision_quality
    from tests.helpers import make_signal
    checkpoint = export_model(tiny_model, model_config(), tmp_path / 'tiny.th')
    clips = tmp_path / 'clips'
    for seed in range(3):
        write_wav(clips / f'clip{seed}.wav', make_signal(0.5 + seed / 4, seed=seed), 32000)
    out = tmp_path / 'quality.json'
    assert precision_quality.main(['--checkpoint', str(checkpoint), '--data', str(clips), '--metrics',
                                   'mel_distance,si_sdr', '--resamples', '99', '--out', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['data']['clips'] == 3 and result['data']['seconds'] == pytest.approx(0.5 + 0.75 + 1.0)
    for name, row in result['metrics'].items():
        values = result['per_clip']
        assert row['float32'] == pytest.approx(sum(values['float32'][name]) / 3)
        assert row['mean'] == pytest.approx(row['bfloat16'] - row['float32'])
        assert row['ci_low'] <= row['mean'] <= row['ci_high'] and row['n'] == 3
        assert row['verdict'] in ('bfloat16 better', 'bfloat16 worse', 'inconclusive')
    assert 0 <= result['changed_codes']['mean'] <= result['changed_codes']['max'] <= 1
    assert 0 < result['output_snr_db']['min'] <= result['output_snr_db']['median'] < 100  # close, not equal

    with pytest.raises(SystemExit) as error:
        precision_quality.main(['--checkpoint', str(tmp_path / 'missing.th'), '--data', str(clips)])
    assert error.value.code == 2 and 'need an exported checkpoint and clips' in capsys.readouterr().err
