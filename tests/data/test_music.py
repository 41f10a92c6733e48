"""The real-music set: whole tracks to disjoint splits, clip positions, a Debian package unpacked without installing,
its licence statement, and a set rebuilt when its tracks change."""
import json
from pathlib import Path
import shutil
import subprocess

import pytest
import soundfile

from bandsplit_audiocraft.data import music
from tests.helpers import write_tracks


def test_splits_are_disjoint_whole_tracks(tmp_path):
    tracks = [tmp_path / f'album/track{i:02d}.ogg' for i in range(20)]
    splits = music.assign_splits(tracks, tmp_path)
    assert [len(splits[s]) for s in music.SPLITS] == [3, 2, 15]
    assert sorted(sum(splits.values(), [])) == sorted(tracks)
    # Stable: the assignment depends on the paths only, not on their order.
    assert music.assign_splits(tracks[::-1], tmp_path) == splits
    assert all(len(v) == 1 for v in music.assign_splits(tracks[:3], tmp_path).values())
    with pytest.raises(music.MusicSetError, match='At least 3'):
        music.assign_splits(tracks[:2], tmp_path)


def test_clip_positions():
    starts = music.clip_starts(100, 20, 3)
    assert starts == [10, 40, 70]
    assert all(0 <= s and s + 20 <= 100 for s in starts)
    assert music.clip_starts(50, 20, 4) == [3, 26]  # only two clips fit
    assert music.clip_starts(10, 20, 4) == []


COPYRIGHT = """This package was debianized by somebody.

Copyright (C) 2003 - 2009 by Some One <one@example.org>

License:
        Copyright (C) 2003 - 2007 by Some One

        This program is free software; you can redistribute it and/or modify
        it under the terms of the GNU General Public License version 2
        or at your option any later version.

On Debian systems, the complete text of the GNU General Public
License can be found in /usr/share/common-licenses/GPL-2 file.

        -----

        fonts/Other.ttf is under another licence.
"""


def build_deb(tmp_path, work):
    tree = tmp_path / 'tree'
    write_tracks(tree / 'usr' / 'share' / 'game' / 'music', 3, seconds=1.0)
    (tree / 'usr' / 'share' / 'doc' / 'game-music').mkdir(parents=True)
    (tree / 'usr' / 'share' / 'doc' / 'game-music' / 'copyright').write_text(COPYRIGHT)
    (tree / 'DEBIAN').mkdir()
    (tree / 'DEBIAN' / 'control').write_text(
        "Package: game-music\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\n"
        "Description: test music\n")
    (work / 'debs').mkdir(parents=True)
    deb = work / 'debs' / 'game-music_1.0_all.deb'
    subprocess.run(['dpkg-deb', '--build', str(tree), str(deb)], check=True, capture_output=True)
    return deb


@pytest.mark.skipif(not shutil.which('dpkg-deb'), reason="dpkg-deb is not available")
def test_unpacks_a_debian_package_without_installing(tmp_path):
    """A package already downloaded into `<work>/debs` (as `apt-get download` leaves it) is unpacked and its
    audio found; a second call reuses the unpacked tree; its version and licence statement are recorded."""
    work = tmp_path / 'work'
    deb = build_deb(tmp_path, work)
    root = music.fetch_debian_package('game-music', work)
    tracks = music.find_tracks(root, min_seconds=0.5)
    assert len(tracks) == 3 and all(root in path.parents for path, _ in tracks)
    assert all(seconds == pytest.approx(1.0) for _, seconds in tracks)
    deb.rename(tmp_path / deb.name)
    assert music.fetch_debian_package('game-music', work) == root  # unpacked once
    described = music.describe_package(root, 'game-music')
    assert described['version'] == '1.0' and described['deb'].endswith('game-music_1.0_all.deb')
    statement = described['licence']['statement']
    assert 'GNU General Public License version 2 or at your option any later version' in statement
    assert 'GPL-2 file.' in statement and 'fonts' not in statement  # the first block only
    # A .deb given explicitly (file or folder) is used when the work folder has none.
    other = tmp_path / 'other'
    assert music.fetch_debian_package('game-music', other, deb=tmp_path) == other / 'packages' / 'game-music'
    with pytest.raises(music.MusicSetError, match='No game-music_'):
        music.fetch_debian_package('game-music', tmp_path / 'third', deb=tmp_path / 'tree')


def test_machine_readable_licence_fields(tmp_path):
    doc = tmp_path / 'usr' / 'share' / 'doc' / 'pkg'
    doc.mkdir(parents=True)
    (doc / 'copyright').write_text("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                                   "Files: *\nCopyright: 2020 Someone\nLicense: CC-BY-SA-4.0\n Attribution "
                                   "ShareAlike.\n\nFiles: debian/*\nLicense: GPL-2+\n")
    licence = music.package_licence(tmp_path, 'pkg')
    assert licence['licenses'] == ['CC-BY-SA-4.0', 'GPL-2+']
    assert licence['statement'] == 'CC-BY-SA-4.0 Attribution ShareAlike.'
    assert music.package_licence(tmp_path, 'missing') == {'file': None, 'licenses': [], 'statement': None}


def test_set_is_reused_for_the_same_tracks_and_rebuilt_for_others(tmp_path):
    write_tracks(tmp_path / 'music', 4, seconds=2.0)
    tracks = [path for path, _ in music.find_tracks(tmp_path / 'music', min_seconds=1.0)]
    out = tmp_path / 'set'
    summary = music.build_set(music.assign_splits(tracks, tmp_path), out, 1.0, 2)
    assert [summary[s]['files'] for s in music.SPLITS] == [2, 2, 2]
    assert json.loads((out / music.COMPLETE).read_text()) == summary
    for path in out.glob('audio/*/*.wav'):  # stereo 44.1 kHz tracks become 32 kHz mono files
        assert (soundfile.info(path).samplerate, soundfile.info(path).channels) == (32000, 1), path
    assert len(list(out.glob('audio/*/*.wav'))) == 6
    marker = out / 'audio' / 'train' / 'kept'
    marker.touch()
    assert music.build_set(music.assign_splits(tracks, tmp_path), out, 1.0, 2) == summary and marker.exists()
    fewer = music.build_set(music.assign_splits(tracks[:3], tmp_path), out, 1.0, 2)
    assert fewer['train']['files'] == 1 and not marker.exists()


def test_a_moved_set_gets_manifests_of_its_new_place(tmp_path):
    from bandsplit_audiocraft.data.manifest import read_manifest
    write_tracks(tmp_path / 'music', 3, seconds=1.0)
    tracks = [path for path, _ in music.find_tracks(tmp_path / 'music', min_seconds=0.5)]
    music.build_set(music.assign_splits(tracks, tmp_path), tmp_path / 'set', 0.5, 1)
    moved = tmp_path / 'elsewhere' / 'set'
    shutil.move(tmp_path / 'set', moved)
    music.relocate_set(moved)
    for split in (*music.SPLITS, 'generate'):
        entries = read_manifest(moved / split / 'data.jsonl')
        assert entries and all(moved in Path(e['path']).parents for e in entries)


def test_a_prepared_set_is_found_again_by_its_settings(tmp_path, capsys):
    write_tracks(tmp_path / 'music', 5, seconds=2.0)
    folder = (tmp_path / 'music').resolve()
    data = music.prepare_set(tmp_path / 'work', folder=folder, clip_seconds=1.0, clips_per_track=2)
    out = Path(data['set'])
    assert out == music.set_folder(tmp_path / 'work', {'folder': str(folder)}, 1.0, 2, None)
    assert data['source'] == {'folder': str(folder)} and data['package'] is None
    assert sum(data['splits'][s]['tracks'] for s in music.SPLITS) == 5
    assert json.loads((out / 'source.json').read_text()) == data
    assert 'building the set' in capsys.readouterr().out
    assert music.prepare_set(tmp_path / 'work', folder=folder, clip_seconds=1.0, clips_per_track=2) == data
    assert 'building the set' not in capsys.readouterr().out  # found, not rebuilt
    fewer = music.prepare_set(tmp_path / 'work', folder=folder, clip_seconds=1.0, clips_per_track=2, max_tracks=3)
    assert Path(fewer['set']) != out and sum(fewer['splits'][s]['tracks'] for s in music.SPLITS) == 3
    with pytest.raises(music.MusicSetError, match='At least 3'):
        music.prepare_set(tmp_path / 'work', folder=folder, clip_seconds=5.0, clips_per_track=2)
