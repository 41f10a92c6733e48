"""audiocraft manifests (`data.jsonl`) for any folder of audio files, as a library and a command.

A manifest is audiocraft's own: one `audiocraft.data.audio_dataset.AudioMeta` per line, serialized with
`AudioMeta.to_dict` as audiocraft's `save_audio_meta` does (`path`, `duration`, `sample_rate`, `amplitude`,
`weight`, `info_path`), so that audiocraft's `load_audio_meta` and `AudioDataset.from_meta` read it as is.
Entries are handled as the dicts `AudioMeta.to_dict` gives.

Beyond audiocraft's `find_audio_files` and `save_audio_meta`, this module: reads metadata with
`soundfile.info` (audiocraft's PyAV-based `audio_info` only for the formats soundfile cannot open: mp3,
m4a...); ignores hidden files; skips the files that neither can read with one warning listing them; fails
clearly on a missing folder or one without audio; and writes the manifest atomically, gzip-compressed without
a timestamp when it ends with .gz, so that the same entries always give the same bytes. Paths are written
absolute and sorted.

Command line (one manifest folder per split is what `dset=folder` expects)::

    python -m bandsplit_audiocraft.data.manifest /path/to/audio/train /path/to/manifests/train/data.jsonl
"""

import argparse
import dataclasses
import gzip
import json
import logging
import os
from pathlib import Path
import sys
import typing as tp

from audiocraft.data.audio import audio_info
from audiocraft.data.audio_dataset import AudioMeta
import soundfile

from ..utils import PathLike
from ..utils.atomic import atomic_write

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS: tp.Tuple[str, ...] = ('.wav', '.flac', '.ogg', '.oga', '.opus', '.mp3', '.m4a', '.aac',
                                        '.aiff', '.aif', '.aifc', '.wma', '.webm', '.caf', '.w64')
MANIFEST_FIELDS: tp.Tuple[str, ...] = tuple(field.name for field in dataclasses.fields(AudioMeta))
REQUIRED_FIELDS: tp.Tuple[str, ...] = ('path', 'duration', 'sample_rate')


def _normalize_extensions(extensions: tp.Iterable[str]) -> tp.Tuple[str, ...]:
    normalized = tuple('.' + ext.lower().lstrip('.') for ext in extensions if ext.strip('.'))
    if not normalized:
        raise ValueError("At least one audio file extension is needed.")
    return normalized


def find_audio_files(folder: PathLike, extensions: tp.Iterable[str] = AUDIO_EXTENSIONS) -> tp.List[Path]:
    """All audio files under `folder` (recursive, links followed), sorted, as absolute paths.

    Matching is by extension, case-insensitive. Hidden files (name starting with '.', such as the
    temporary files of `write_wav` or macOS `._*` resource forks) are ignored.
    """
    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"Audio folder {str(root)!r} does not exist.")
    if not root.is_dir():
        raise ValueError(f"{str(root)!r} is not a folder.")
    exts = _normalize_extensions(extensions)
    found = []
    for dirpath, _, filenames in os.walk(root, followlinks=True):
        for name in filenames:
            if not name.startswith('.') and Path(name).suffix.lower() in exts:
                found.append((Path(dirpath) / name).absolute())
    return sorted(found)


def audio_meta(path: PathLike) -> tp.Dict[str, tp.Any]:
    """Manifest entry for one audio file: `{path, duration, sample_rate, amplitude, weight, info_path}`.

    Raises:
        ValueError: The file cannot be read by soundfile nor PyAV, or holds no samples.
    """
    path = Path(path).absolute()
    try:
        info = soundfile.info(str(path))
        duration, sample_rate = float(info.frames) / info.samplerate, int(info.samplerate)
    except Exception as sf_error:  # soundfile cannot open it: try PyAV through audiocraft.
        try:
            av_info = audio_info(path)
            duration, sample_rate = float(av_info.duration), int(av_info.sample_rate)
        except Exception as av_error:
            raise ValueError(f"Cannot read audio metadata of {str(path)!r}: soundfile says {sf_error}; "
                             f"PyAV says {av_error!r}.") from av_error
    if not duration > 0 or sample_rate <= 0:
        raise ValueError(f"Audio file {str(path)!r} holds no audio samples.")
    return AudioMeta(str(path), duration, sample_rate).to_dict()


def build_manifest(folder: PathLike, *, min_duration: float = 0.0,
                   extensions: tp.Iterable[str] = AUDIO_EXTENSIONS) -> tp.List[tp.Dict[str, tp.Any]]:
    """Manifest entries for every readable audio file under `folder`, sorted by path.

    Unreadable files are skipped with one warning listing them; files shorter than `min_duration`
    seconds are dropped (logged at info level).
    """
    if min_duration < 0:
        raise ValueError(f"The minimum duration must be non-negative, got {min_duration}.")
    entries, unreadable, short = [], [], []
    for path in find_audio_files(folder, extensions):
        try:
            entry = audio_meta(path)
        except ValueError as error:
            unreadable.append(f"{path} ({error})")
            continue
        if entry['duration'] < min_duration:
            short.append(str(path))
            continue
        entries.append(entry)
    if unreadable:
        logger.warning("Skipped %d unreadable audio file(s):\n  %s", len(unreadable), '\n  '.join(unreadable))
    if short:
        logger.info("Skipped %d file(s) shorter than %.3f s.", len(short), min_duration)
    return entries


def write_manifest(entries: tp.Sequence[tp.Dict[str, tp.Any]], out_path: PathLike) -> Path:
    """Write manifest `entries` to `out_path` (gzip-compressed if it ends with .gz), atomically.

    Each entry is written as its `AudioMeta` (the `MANIFEST_FIELDS` keys, other keys dropped); a missing
    `path`, `duration` or `sample_rate` raises a ValueError, missing optional fields are written as null.
    """
    lines = []
    for entry in entries:
        missing = [key for key in REQUIRED_FIELDS if entry.get(key) is None]
        if missing:
            raise ValueError(f"Manifest entry {entry!r} lacks the required field(s) {missing}.")
        lines.append(json.dumps(AudioMeta.from_dict(entry).to_dict()) + '\n')
    payload = ''.join(lines).encode('utf-8')
    if Path(out_path).suffix.lower() == '.gz':
        payload = gzip.compress(payload, mtime=0)
    return atomic_write(out_path, lambda f: f.write(payload), overwrite=True)


def read_manifest(path: PathLike) -> tp.List[tp.Dict[str, tp.Any]]:
    """Read a manifest (`.jsonl` or `.jsonl.gz`) back as a list of dicts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Manifest {str(path)!r} does not exist.")
    raw = path.read_bytes()
    if path.suffix.lower() == '.gz':
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.decode('utf-8').splitlines() if line.strip()]


def make_manifest(folder: PathLike, out_path: PathLike, *, min_duration: float = 0.0,
                  extensions: tp.Iterable[str] = AUDIO_EXTENSIONS) -> tp.List[tp.Dict[str, tp.Any]]:
    """Build the manifest of `folder` and write it to `out_path`; returns the entries.

    Raises:
        ValueError: No readable audio file of at least `min_duration` seconds was found (nothing is written,
            since audiocraft cannot build a dataset from an empty manifest).
    """
    entries = build_manifest(folder, min_duration=min_duration, extensions=extensions)
    if not entries:
        raise ValueError(f"No readable audio file of at least {min_duration} s was found under {str(folder)!r} "
                         f"(extensions: {' '.join(_normalize_extensions(extensions))}).")
    write_manifest(entries, out_path)
    return entries


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m bandsplit_audiocraft.data.manifest',
        description="Build an audiocraft manifest (one JSON object per line: path, duration, sample_rate, "
                    "amplitude, weight, info_path) for every audio file under a folder, searched recursively. "
                    "Unreadable files are skipped with a warning.",
        epilog="Example: python -m bandsplit_audiocraft.data.manifest /data/music/train manifests/train/data.jsonl "
               "(then train with dset=folder dataset_root=manifests).")
    parser.add_argument('folder', type=Path, help="folder holding the audio files (searched recursively)")
    parser.add_argument('out', type=Path, help="manifest file to write, e.g. manifests/train/data.jsonl "
                                                "(gzip-compressed if it ends with .gz)")
    parser.add_argument('--min-duration', type=float, default=0.0, metavar='SECONDS',
                        help="skip files shorter than this many seconds (default: 0, keep all)")
    parser.add_argument('--extensions', nargs='+', default=list(AUDIO_EXTENSIONS), metavar='EXT',
                        help=f"file extensions to include (default: {' '.join(AUDIO_EXTENSIONS)})")
    parser.add_argument('-q', '--quiet', action='store_true', help="only print warnings and errors")
    return parser


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status (0 on success)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format='%(levelname)s: %(message)s',
                        stream=sys.stderr, force=True)
    try:
        entries = make_manifest(args.folder, args.out, min_duration=args.min_duration, extensions=args.extensions)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    total = sum(entry['duration'] for entry in entries)
    logger.info("Wrote %d entries (%.1f s of audio) to %s.", len(entries), total, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
