"""Tests of bandsplit_audiocraft.data.manifest: manifests of audio folders, read back by audiocraft."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from bandsplit_audiocraft.data.manifest import (
    MANIFEST_FIELDS,
    build_manifest,
    find_audio_files,
    main,
    make_manifest,
    read_manifest,
    write_manifest,
)
from tests.helpers import write_m4a


@pytest.fixture()
def audio_folder(tmp_path):
    """A folder with nested wav / flac / m4a files, a corrupt wav, a short clip and a non-audio file."""
    root = tmp_path / 'audio'
    rng = np.random.default_rng(0)
    (root / 'sub' / 'deeper').mkdir(parents=True)
    soundfile.write(str(root / 'a.wav'), rng.uniform(-0.5, 0.5, 48000), 32000, subtype='PCM_16')
    soundfile.write(str(root / 'sub' / 'b.FLAC'), rng.uniform(-0.5, 0.5, (44100 * 2, 2)), 44100)
    soundfile.write(str(root / 'sub' / 'deeper' / 'short.wav'), rng.uniform(-0.5, 0.5, 3200), 32000)
    write_m4a(root / 'sub' / 'c.m4a', 0.3 * np.sin(np.arange(40000) * 0.05), 32000)
    (root / 'sub' / 'broken.wav').write_bytes(b'definitely not audio' * 20)
    (root / 'notes.txt').write_text('not audio')
    (root / '.hidden.wav').write_bytes(b'')
    return root


def test_fields_match_audiocraft():
    from audiocraft.data.audio_dataset import AudioMeta

    assert MANIFEST_FIELDS == tuple(field.name for field in dataclasses.fields(AudioMeta))


def test_find_audio_files(audio_folder):
    names = [p.name for p in find_audio_files(audio_folder)]
    assert names == ['a.wav', 'b.FLAC', 'broken.wav', 'c.m4a', 'short.wav']
    assert [p.name for p in find_audio_files(audio_folder, ['flac'])] == ['b.FLAC']
    with pytest.raises(FileNotFoundError):
        find_audio_files(audio_folder / 'nope')


def test_build_manifest_skips_unreadable(audio_folder, caplog):
    entries = build_manifest(audio_folder)
    assert 'broken.wav' in caplog.text and 'Skipped 1 unreadable' in caplog.text
    by_name = {entry['path'].rsplit('/', 1)[-1]: entry for entry in entries}
    assert sorted(by_name) == ['a.wav', 'b.FLAC', 'c.m4a', 'short.wav']
    assert by_name['a.wav']['duration'] == 1.5 and by_name['a.wav']['sample_rate'] == 32000
    assert by_name['b.FLAC']['duration'] == 2.0 and by_name['b.FLAC']['sample_rate'] == 44100
    assert by_name['c.m4a']['sample_rate'] == 32000 and 1.2 < by_name['c.m4a']['duration'] < 1.4
    assert all(set(entry) == set(MANIFEST_FIELDS) and entry['path'].startswith('/') for entry in entries)
    assert [e['path'] for e in build_manifest(audio_folder, min_duration=0.5)] == [
        e['path'] for e in entries if not e['path'].endswith('short.wav')]


def test_manifest_loads_in_audiocraft(audio_folder, tmp_path):
    from audiocraft.data.audio_dataset import AudioDataset, load_audio_meta

    out = tmp_path / 'manifests' / 'train' / 'data.jsonl'
    entries = make_manifest(audio_folder, out, min_duration=0.5)
    lines = out.read_text().splitlines()
    assert len(lines) == len(entries) == 3
    assert list(json.loads(lines[0])) == list(MANIFEST_FIELDS)
    assert json.loads(lines[0])['amplitude'] is None and json.loads(lines[0])['info_path'] is None
    meta = load_audio_meta(out)
    assert [m.path for m in meta] == [e['path'] for e in entries]
    dataset = AudioDataset.from_meta(out.parent, segment_duration=1.0, sample_rate=32000, channels=1,
                                     num_samples=6, shuffle=False)
    shapes = {tuple(dataset[i].shape) for i in range(len(dataset))}
    assert shapes == {(1, 32000)}


def test_gzip_manifest_round_trip(audio_folder, tmp_path):
    from audiocraft.data.audio_dataset import load_audio_meta

    entries = build_manifest(audio_folder)
    out = write_manifest(entries, tmp_path / 'data.jsonl.gz')
    assert read_manifest(out) == entries
    assert len(load_audio_meta(out)) == len(entries)


def test_write_manifest_rejects_incomplete_entries(tmp_path):
    with pytest.raises(ValueError, match='duration'):
        write_manifest([{'path': '/x.wav', 'sample_rate': 32000}], tmp_path / 'data.jsonl')
    assert not (tmp_path / 'data.jsonl').exists()


def test_make_manifest_refuses_empty_result(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='No readable audio file'):
        make_manifest(tmp_path / 'empty', tmp_path / 'data.jsonl')
    assert not (tmp_path / 'data.jsonl').exists()


def test_main_in_process(audio_folder, tmp_path, capsys):
    out = tmp_path / 'm' / 'data.jsonl'
    assert main([str(audio_folder), str(out), '--min-duration', '1.0', '--extensions', 'wav', 'flac']) == 0
    assert [r['path'].rsplit('/', 1)[-1] for r in read_manifest(out)] == ['a.wav', 'b.FLAC']
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / 'missing'), str(out)])
    assert exit_info.value.code == 2 and 'does not exist' in capsys.readouterr().err


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['--help'])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert 'python -m bandsplit_audiocraft.data.manifest' in text
    assert '--min-duration SECONDS' in text and 'searched recursively' in text


@pytest.mark.slow
def test_command_line(audio_folder, tmp_path):
    """The documented one-line command, in a fresh interpreter (slow: it imports audiocraft)."""
    out = tmp_path / 'manifests' / 'data.jsonl'
    command = [sys.executable, '-m', 'bandsplit_audiocraft.data.manifest', str(audio_folder), str(out),
               '--min-duration', '0.5']
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert 'WARNING' in result.stderr and 'broken.wav' in result.stderr
    assert 'Wrote 3 entries' in result.stderr and 'RuntimeWarning' not in result.stderr
    assert len(read_manifest(out)) == 3
