"""Real recorded music as a codec benchmark set: whole tracks split into evaluate, valid and train, at 32 kHz mono.

1. **Audio.** Any folder of recordings (every file soundfile or PyAV reads, `find_tracks`), or recorded music
   packaged by Debian: `fetch_debian_package` unpacks a package (by default `wesnoth-1.16-music`, the orchestral
   soundtrack of The Battle for Wesnoth, Ogg Vorbis 44.1 kHz stereo) with `dpkg-deb -x`, from a `.deb` already
   downloaded or one `apt-get download` fetches; nothing is installed. `describe_package` gives its version and
   the licence statement of its `/usr/share/doc/<package>/copyright` (`package_licence`).
2. **Splits.** `assign_splits` gives whole tracks to the evaluate, valid and train splits, ordered by a hash of
   their path, so the assignment is stable and no track lies in two splits.
3. **Set.** `build_set` downmixes every track to mono and resamples it to 32 kHz (julius); train tracks are
   written whole, evaluate and valid tracks as clips of a fixed length at evenly spaced positions
   (`clip_starts`), as float WAV (the decoder's and resampler's overshoot is kept, not clipped), with one
   audiocraft manifest per split (`<set>/<split>/data.jsonl`, the layout `dset=folder dataset_root=<set>` reads).
   `relocate_set` rewrites the manifests of a set copied to another folder or machine.
4. **Prepared once.** `prepare_set` does 1 to 3 in a folder named after the settings (`set_folder`) and records
   the source, the package's licence and the splits in `<set>/source.json`, so that a set prepared before, or
   copied from elsewhere, is used without its source.

Used by `python -m bandsplit_audiocraft.reproduce`.

Example:
    >>> data = prepare_set(Path('outputs/music'), clip_seconds=5.0, clips_per_track=12)  # doctest: +SKIP
    >>> data['splits']['evaluate']['files'], data['package']['licence']['licenses']      # doctest: +SKIP
"""

import hashlib
import json
from pathlib import Path
import re
import shutil
import subprocess
import typing as tp

SAMPLE_RATE = 32000
"""Rate of every file of the set (the band-split codec's top rate)."""

SPLITS = ('evaluate', 'valid', 'train')
DEFAULT_PACKAGE = 'wesnoth-1.16-music'
COMPLETE = '.complete'
"""Marker file of a finished set or unpacked package; a set's marker holds its description as JSON."""


SEPARATOR = re.compile(r'\s*-{3,}\s*')
FIELD = re.compile(r'[A-Z][A-Za-z-]*:')   # a field of a machine-readable copyright file (Files:, License:, ...)
STATEMENT_CHARS = 800
"""Longest licence statement kept (a machine-readable file may quote a whole licence text)."""


class MusicSetError(RuntimeError):
    """The audio or the set could not be prepared; the message says why and what to do."""


# ---- audio -----------------------------------------------------------------------------------------------------

def _find_deb(package: str, where: Path) -> tp.Optional[Path]:
    """`where` itself if it is a file, else the newest-named `<package>_*.deb` in the folder `where`."""
    if where.is_file():
        return where
    found = sorted(where.glob(f'{package}_*.deb')) if where.is_dir() else []
    return found[-1] if found else None


def fetch_debian_package(package: str, work: Path, deb: tp.Optional[Path] = None) -> Path:
    """Unpack the Debian package `package` (without installing it) under `work/packages`; returns its root.

    The `.deb` is `deb` (a file, or a folder holding `<package>_*.deb`) when given, else one left in `work/debs`
    by an earlier call, else downloaded there with `apt-get download`. A package unpacked before is reused.

    Raises:
        MusicSetError: `deb` holds no such package, or apt-get / dpkg-deb are missing or fail.
    """
    root = work / 'packages' / package
    if (root / COMPLETE).exists():
        return root
    if shutil.which('dpkg-deb') is None:
        raise MusicSetError("dpkg-deb is needed to unpack a Debian package; give a folder of audio instead.")
    if deb is not None:
        found = _find_deb(package, Path(deb))
        if found is None:
            raise MusicSetError(f"No {package}_*.deb found at {str(deb)!r}: give the .deb file or the folder "
                                f"holding it.")
    else:
        debs = work / 'debs'
        debs.mkdir(parents=True, exist_ok=True)
        found = _find_deb(package, debs)
        if found is None:
            if shutil.which('apt-get') is None:
                raise MusicSetError(f"apt-get is needed to download {package}; give its .deb or a folder of "
                                    f"audio instead.")
            print(f"downloading the Debian package {package} ...", flush=True)
            out = subprocess.run(['apt-get', 'download', package], cwd=debs, capture_output=True, text=True)
            found = _find_deb(package, debs)
            if out.returncode != 0 or found is None:
                raise MusicSetError(f"`apt-get download {package}` failed (exit {out.returncode}): "
                                    f"{out.stderr.strip()[-500:]}")
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(['dpkg-deb', '-x', str(found), str(root)], capture_output=True, text=True)
    if out.returncode != 0:
        raise MusicSetError(f"`dpkg-deb -x {found}` failed: {out.stderr.strip()[-500:]}")
    fields = subprocess.run(['dpkg-deb', '-f', str(found), 'Version'], capture_output=True, text=True)
    version = fields.stdout.strip() if fields.returncode == 0 else ''
    (root / COMPLETE).write_text(json.dumps({'deb': str(Path(found).resolve()), 'version': version or None}))
    return root


def describe_package(root: Path, package: str) -> tp.Dict[str, tp.Any]:
    """The package unpacked at `root` by `fetch_debian_package`: `{'package', 'deb', 'version', 'licence'}` (the
    `.deb` and version it was unpacked from, None where unknown, and `package_licence`)."""
    marker = root / COMPLETE
    text = marker.read_text().strip() if marker.is_file() else ''
    unpacked = json.loads(text) if text.startswith('{') else {}
    return {'package': package, 'deb': unpacked.get('deb'), 'version': unpacked.get('version'),
            'licence': package_licence(root, package)}


def package_licence(root: Path, package: str) -> tp.Dict[str, tp.Any]:
    """The licence of an unpacked Debian package, as its `usr/share/doc/<package>/copyright` states it.

    Returns `{'file', 'licenses', 'statement'}`: the copyright file (None if the package has none), the values
    of its `License:` fields (machine-readable copyright files), and the text of its first `License:` block up to
    the next separator line, whitespace collapsed (the statement that covers the package's own files).
    """
    path = root / 'usr' / 'share' / 'doc' / package / 'copyright'
    if not path.is_file():
        return {'file': None, 'licenses': [], 'statement': None}
    lines = path.read_text(errors='replace').splitlines()
    licenses = list(dict.fromkeys(value for line in lines if line.startswith('License:')
                                  for value in [line.split(':', 1)[1].strip()] if value))
    start = next((i for i, line in enumerate(lines) if line.startswith('License:')), None)
    statement = None
    if start is not None:
        block = [lines[start].split(':', 1)[1]]
        for line in lines[start + 1:]:
            if SEPARATOR.fullmatch(line) or FIELD.match(line):
                break
            block.append(line)
        text = ' '.join(' '.join(block).split())
        statement = (text[:STATEMENT_CHARS].rstrip() + ' ...' if len(text) > STATEMENT_CHARS else text) or None
    return {'file': str(path), 'licenses': licenses, 'statement': statement}


def find_tracks(folder: Path, min_seconds: float) -> tp.List[tp.Tuple[Path, float]]:
    """Readable audio files under `folder` of at least `min_seconds`, with their durations, sorted by path."""
    from .manifest import build_manifest
    entries = build_manifest(folder, min_duration=min_seconds)
    return [(Path(e['path']), float(e['duration'])) for e in entries]


# ---- splits and set --------------------------------------------------------------------------------------------

def assign_splits(tracks: tp.Sequence[Path], root: Path, eval_fraction: float = 0.15,
                  valid_fraction: float = 0.1) -> tp.Dict[str, tp.List[Path]]:
    """Whole tracks to splits: ordered by a hash of the path relative to `root`, the first ones evaluate, then
    valid, the rest train; at least one track each."""
    if len(tracks) < 3:
        raise MusicSetError(f"At least 3 audio tracks are needed (one per split), found {len(tracks)}.")

    def key(path: Path) -> str:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        return hashlib.sha1(str(rel).encode()).hexdigest()
    ordered = sorted(tracks, key=key)
    n_eval = max(1, round(eval_fraction * len(ordered)))
    n_valid = max(1, round(valid_fraction * len(ordered)))
    n_eval = min(n_eval, len(ordered) - 2)
    n_valid = min(n_valid, len(ordered) - n_eval - 1)
    return {'evaluate': ordered[:n_eval], 'valid': ordered[n_eval:n_eval + n_valid],
            'train': ordered[n_eval + n_valid:]}


def clip_starts(length: int, clip: int, count: int) -> tp.List[int]:
    """`count` evenly spaced starts of `clip`-sample clips inside `length` samples (fewer if it is short)."""
    count = max(0, min(count, length // clip))
    if count == 0:
        return []
    room = length - count * clip
    gap = room // (count + 1)
    return [gap + i * (clip + gap) for i in range(count)]


def _same_tracks(summary: tp.Mapping[str, tp.Any], splits: tp.Mapping[str, tp.Sequence[Path]]) -> bool:
    return all(summary.get(split, {}).get('tracks') == [str(t) for t in tracks] for split, tracks in splits.items())


def build_set(splits: tp.Dict[str, tp.List[Path]], out: Path, clip_seconds: float,
              clips_per_track: int) -> tp.Dict[str, tp.Any]:
    """Write the 32 kHz mono set of `splits` and its manifests under `out`; returns its description.

    A set finished before with the same tracks is reused as it is; one with other tracks (or unfinished) is
    rebuilt. The description holds, per split, its tracks, its number of files and their total seconds.

    Raises:
        MusicSetError: A split has no clip of `clip_seconds` (tracks too short).
    """
    from .audio_io import read_audio, write_wav
    from .manifest import make_manifest
    done = out / COMPLETE
    if done.exists():
        summary = json.loads(done.read_text())
        if _same_tracks(summary, splits):
            return summary
    if out.exists():
        shutil.rmtree(out)
    clip = int(clip_seconds * SAMPLE_RATE)
    summary = {}
    for split, tracks in splits.items():
        audio_dir = out / 'audio' / split
        seconds = 0.0
        files = 0
        for index, track in enumerate(tracks):
            wav, _ = read_audio(track, sample_rate=SAMPLE_RATE, channels=1)
            stem = f'{index:03d}_{track.stem}'
            if split == 'train':
                pieces = [(stem, wav)]
            else:
                pieces = [(f'{stem}_{start // SAMPLE_RATE:04d}s', wav[:, start:start + clip])
                          for start in clip_starts(wav.shape[-1], clip, clips_per_track)]
            for name, piece in pieces:
                write_wav(audio_dir / f'{name}.wav', piece, SAMPLE_RATE, overwrite=True, subtype='FLOAT')
                seconds += piece.shape[-1] / SAMPLE_RATE
                files += 1
        if files == 0:
            raise MusicSetError(f"The {split} split has no clip of {clip_seconds} s; use longer tracks or a "
                                f"shorter clip length.")
        make_manifest(audio_dir, out / split / 'data.jsonl')
        summary[split] = {'tracks': [str(t) for t in tracks], 'files': files, 'seconds': round(seconds, 2)}
    shutil.copytree(out / 'valid', out / 'generate')
    done.write_text(json.dumps(summary, indent=2))
    return summary


def relocate_set(out: Path) -> None:
    """Rewrite the manifests of the set `out` if they point elsewhere (a set copied to another folder or machine
    lists the files of its old location)."""
    from .manifest import make_manifest, read_manifest
    for split in SPLITS:
        manifest = out / split / 'data.jsonl'
        entries = read_manifest(manifest) if manifest.is_file() else []
        if not entries or not Path(entries[0]['path']).is_file():
            make_manifest(out / 'audio' / split, manifest)
            if split == 'valid':
                make_manifest(out / 'audio' / split, out / 'generate' / 'data.jsonl')


def set_folder(work: Path, source: tp.Mapping[str, str], clip_seconds: float, clips_per_track: int,
               max_tracks: tp.Optional[int]) -> Path:
    """Folder of the set of these settings under `work`: a name derived from them, so a changed setting gives a
    new set. `source` is `{'folder': path}` or `{'debian_package': name}`."""
    key = json.dumps([dict(source), clip_seconds, clips_per_track, max_tracks], sort_keys=True)
    return work / f"set_{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def prepare_set(work: Path, *, folder: tp.Optional[Path] = None, package: str = DEFAULT_PACKAGE,
                deb: tp.Optional[Path] = None, clip_seconds: float, clips_per_track: int,
                max_tracks: tp.Optional[int] = None) -> tp.Dict[str, tp.Any]:
    """Build (or find) the set of the recordings of `folder`, or else of the Debian package `package`, under
    `work` (`set_folder`); `deb` as for `fetch_debian_package`, `max_tracks` keeps that many tracks (by a hash of
    their path).

    Returns:
        `{'set', 'source', 'package', 'sample_rate', 'clip_seconds', 'clips_per_track', 'max_tracks', 'splits'}`:
        the set's folder, the source, the package's version and licence (None for a folder), and per split the
        number of tracks, their names, the number of files and their seconds. Also kept as `<set>/source.json`.
    Raises:
        MusicSetError: The audio cannot be had, or is too short or too little for the three splits.
    """
    source = {'folder': str(folder)} if folder is not None else {'debian_package': package}
    out = set_folder(work, source, clip_seconds, clips_per_track, max_tracks)
    described = out / 'source.json'
    if described.is_file() and (out / COMPLETE).is_file():
        relocate_set(out)
        return {**json.loads(described.read_text()), 'set': str(out)}
    if folder is not None:
        root, info = Path(folder), None
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
