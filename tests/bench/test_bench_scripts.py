"""The benchmark scripts run in their reduced mode and write results of the documented structure.

Figures are not checked (timings depend on the machine); the structure, the programs compared and the
internal consistency of the numbers (ratios are quotients of the reported times) are.
"""
import json
from pathlib import Path
import shutil
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
        assert set(programs) == {'bandsplit', 'seanet_32k', 'encodec'}, name
        for program, figures in programs.items():
            assert 'error' not in figures, (name, program, figures)
            assert figures['encode_s'] > 0 and figures['decode_s'] > 0
            assert figures['round_trip_s'] == pytest.approx(figures['encode_s'] + figures['decode_s'])
            assert figures['round_trip_rtf'] == pytest.approx(case['seconds'] * case['batch'] / figures['round_trip_s'])
        trip = {p: v['round_trip_s'] for p, v in programs.items()}
        assert case['ratios']['bandsplit_over_seanet_32k'] == pytest.approx(trip['bandsplit'] / trip['seanet_32k'])
        assert case['ratios']['bandsplit_over_encodec'] == pytest.approx(trip['bandsplit'] / trip['encodec'])
    for name in ('1s_batch1', '1s_batch2'):
        case = result['cases'][name]
        assert all(v['one_pass_s'] > 0 for v in case['programs'].values())
        assert case['one_pass_ratios']['bandsplit_over_seanet_32k'] == pytest.approx(
            case['programs']['bandsplit']['one_pass_s'] / case['programs']['seanet_32k']['one_pass_s'])
    long = result['cases']['3s_batch1']['programs']
    assert long['bandsplit']['path'] == 'chunked' and long['encodec']['path'] == 'whole signal'
    assert all(v['peak_rss_above_baseline'] >= 0 for v in long.values())
    assert set(result['targets']) >= {'bandsplit_over_seanet_32k <= 1.5', 'bandsplit_over_encodec <= 1.0',
                                      'bandsplit round trip >= 10x real time'}


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


def load_quality_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location('quality_real_audio', REPO / 'bench' / 'quality_real_audio.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quality_splits_are_disjoint_whole_tracks(tmp_path):
    quality = load_quality_module()
    tracks = [tmp_path / f'album/track{i:02d}.ogg' for i in range(20)]
    splits = quality.assign_splits(tracks, tmp_path)
    assert [len(splits[s]) for s in ('evaluate', 'valid', 'train')] == [3, 2, 15]
    assert sorted(sum(splits.values(), [])) == sorted(tracks)
    # Stable: the assignment depends on the paths only, not on their order.
    assert quality.assign_splits(tracks[::-1], tmp_path) == splits
    assert all(len(v) == 1 for v in quality.assign_splits(tracks[:3], tmp_path).values())
    with pytest.raises(quality.BenchmarkError, match='At least 3'):
        quality.assign_splits(tracks[:2], tmp_path)


def test_quality_clip_positions():
    quality = load_quality_module()
    starts = quality.clip_starts(100, 20, 3)
    assert starts == [10, 40, 70]
    assert all(0 <= s and s + 20 <= 100 for s in starts)
    assert quality.clip_starts(50, 20, 4) == [3, 26]  # only two clips fit
    assert quality.clip_starts(10, 20, 4) == []


def write_tracks(folder: Path, count: int, seconds: float = 3.0, sample_rate: int = 44100) -> None:
    """Stereo 44.1 kHz recordings-like tracks (harmonic tones with noise) in FLAC, as a music folder holds."""
    import numpy as np
    import soundfile
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(count):
        f0 = 110 * 2 ** (i / 3)
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 40) if f0 * k < 20000)
        wav = 0.1 * tone + 0.02 * rng.standard_normal(t.shape)
        stereo = np.stack([wav, np.roll(wav, 17)], axis=1).astype(np.float32)
        (folder / f'disc{i % 2}').mkdir(parents=True, exist_ok=True)
        soundfile.write(folder / f'disc{i % 2}' / f'track{i}.flac', stereo, sample_rate)


@pytest.mark.slow
def test_quality_real_audio_quick(tmp_path):
    music = tmp_path / 'music'
    write_tracks(music, 6)
    work = tmp_path / 'work'
    result = run_script('quality_real_audio.py', tmp_path / 'quality.json', '--folder', str(music), '--work',
                        str(work), '--models', 'seanet_32k,dac_32k')
    assert result['source'] == {'folder': str(music.resolve())}
    assert [result['set'][s]['files'] for s in ('evaluate', 'valid', 'train')] == [1, 1, 4]
    assert set(result['models']) == {'bandsplit', 'seanet_32k', 'dac_32k'}
    for name, model in result['models'].items():
        assert model['bitrate_kbps'] == pytest.approx(4.0), name
        assert (work / 'models' / f'{name}.th').is_file()
        assert 'mel_distance' in result['figures'][name]['32000']
        assert result['figures'][name]['32000']['mel_distance']['mean'] >= 0
    assert '16000' in result['figures']['bandsplit']  # the low branch's own operating point
    assert Path(result['report']).is_file()
    # The set is 32 kHz mono whatever the source's rate and channels.
    import soundfile
    info = soundfile.info(next((work.glob('set_*/audio/train/*.wav'))))
    assert (info.samplerate, info.channels) == (32000, 1)


@pytest.mark.skipif(not shutil.which('dpkg-deb'), reason="dpkg-deb is not available")
def test_quality_unpacks_a_debian_package_without_installing(tmp_path):
    """A package already downloaded into `<work>/debs` (as `apt-get download` leaves it) is unpacked and its
    audio found; a second call reuses the unpacked tree."""
    quality = load_quality_module()
    tree = tmp_path / 'tree'
    write_tracks(tree / 'usr' / 'share' / 'game' / 'music', 3, seconds=1.0)
    (tree / 'DEBIAN').mkdir()
    (tree / 'DEBIAN' / 'control').write_text(
        "Package: game-music\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\n"
        "Description: test music\n")
    work = tmp_path / 'work'
    (work / 'debs').mkdir(parents=True)
    subprocess.run(['dpkg-deb', '--build', str(tree), str(work / 'debs' / 'game-music_1.0_all.deb')], check=True,
                   capture_output=True)
    root = quality.fetch_debian_package('game-music', work)
    tracks = quality.find_tracks(root, min_seconds=0.5)
    assert len(tracks) == 3 and all(root in path.parents for path, _ in tracks)
    assert all(seconds == pytest.approx(1.0) for _, seconds in tracks)
    (work / 'debs' / 'game-music_1.0_all.deb').unlink()
    assert quality.fetch_debian_package('game-music', work) == root  # unpacked once


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
