"""Evaluation clips: audio files listed by a manifest or found in a folder, at a codec's rate and channels.

`load_evaluation_set(data, sample_rate, ...)` accepts:

- an audiocraft manifest, `data.jsonl` or `data.jsonl.gz` (one JSON object per line with at least `path`;
  a relative path is looked up as given, then relative to the manifest's folder);
- a folder holding `data.jsonl` or `data.jsonl.gz` (e.g. a split folder of the embedded corpus);
- any other folder: every audio file under it (recursive, sorted by path, see `data.manifest.find_audio_files`).

Files are read with `data.audio_io.read_audio` (no ffmpeg), resampled to `sample_rate` with julius and
converted to `channels` (mean to mono, or duplicated mono). With `segment = S` seconds, each file is cut into
fixed segments of `round(S * sample_rate)` samples: every whole segment in order (`segment_mode='split'`,
the trailing partial segment is dropped) or only the first one (`'crop'`); a file shorter than one segment
is kept whole. `max_clips` keeps the first clips in that order (files are read lazily, so a small
`max_clips` on a large dataset is fast). Clips shorter than `min_duration` are skipped with a warning.

Example:
    >>> dataset = load_evaluation_set('outputs/corpus/evaluate', 32000, channels=1, segment=1.0)  # doctest: +SKIP
    >>> dataset.clips[0].wav.shape  # doctest: +SKIP
    torch.Size([1, 32000])
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
import logging
from pathlib import Path

import torch

from ..data.audio_io import convert_channels, read_audio
from ..data.manifest import find_audio_files, read_manifest
from ..utils import PathLike

logger = logging.getLogger(__name__)


MANIFEST_NAMES: tuple[str, ...] = ('data.jsonl', 'data.jsonl.gz')
SEGMENT_MODES: tuple[str, ...] = ('split', 'crop')
DEFAULT_MIN_DURATION = 0.1
"""Seconds; shorter clips cannot be scored by the multi-scale spectral distances (2048-sample windows)."""


@dataclass
class EvalClip:
    """One evaluation clip.

    Attributes:
        name: Unique, readable name (file stem, with the segment start when the file was cut).
        path: Source audio file.
        wav: Samples `[C, T]` (float32) at `sample_rate`.
        sample_rate: Sample rate of `wav`.
        offset: Start of the clip in the source file, in seconds.
    """
    name: str
    path: str
    wav: torch.Tensor
    sample_rate: int
    offset: float = 0.0

    @property
    def duration(self) -> float:
        """Length of the clip in seconds."""
        return self.wav.shape[-1] / self.sample_rate

    def describe(self) -> dict:
        """JSON-friendly description (no samples)."""
        return {'name': self.name, 'path': self.path, 'offset': self.offset, 'duration': self.duration,
                'channels': int(self.wav.shape[0]), 'samples': int(self.wav.shape[-1])}


@dataclass
class EvaluationSet:
    """Clips loaded by `load_evaluation_set`, with where they come from.

    Attributes:
        clips: The clips, in dataset order.
        source: The `data` argument, resolved to an absolute path.
        kind: 'manifest' or 'folder'.
        manifest: The manifest file read, if any.
        sample_rate: Rate of every clip.
        channels: Channel count of every clip, or None when files kept their own.
        segment: Segment length in seconds, or None.
        segment_mode: 'split' or 'crop'.
        max_clips: Limit on the number of clips, or None.
        num_files: Number of source files read.
        skipped: Descriptions of the clips skipped for being shorter than the minimum duration.
    """
    clips: list[EvalClip]
    source: str
    kind: str
    manifest: str | None = None
    sample_rate: int = 0
    channels: int | None = None
    segment: float | None = None
    segment_mode: str = 'split'
    max_clips: int | None = None
    num_files: int = 0
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def total_duration(self) -> float:
        """Summed length of the clips in seconds."""
        return sum(clip.duration for clip in self.clips)

    def describe(self, with_clips: bool = True) -> dict:
        """JSON-friendly description of the set (and of every clip unless `with_clips` is False)."""
        info = {'source': self.source, 'kind': self.kind, 'manifest': self.manifest, 'sample_rate': self.sample_rate,
                'channels': self.channels, 'segment': self.segment, 'segment_mode': self.segment_mode,
                'max_clips': self.max_clips, 'num_files': self.num_files, 'num_clips': len(self.clips),
                'total_duration': self.total_duration, 'skipped': list(self.skipped)}
        if with_clips:
            info['clips'] = [clip.describe() for clip in self.clips]
        return info


def _find_manifest(folder: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def _is_manifest_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith('.jsonl') or name.endswith('.jsonl.gz')


def _manifest_paths(manifest: Path) -> list[Path]:
    entries = read_manifest(manifest)
    if not entries:
        raise ValueError(f"The manifest {str(manifest)!r} lists no audio files.")
    paths = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get('path'):
            raise ValueError(f"Line {number} of the manifest {str(manifest)!r} has no 'path' field.")
        path = Path(entry['path'])
        if not path.is_absolute() and not path.exists():
            path = manifest.parent / path
        if not path.is_file():
            raise FileNotFoundError(f"The manifest {str(manifest)!r} lists {entry['path']!r} (line {number}), "
                                    f"which does not exist.")
        paths.append(path)
    return paths


def resolve_sources(data: PathLike) -> tuple[list[Path], str, Path | None]:
    """The audio files of `data` (manifest, folder with a manifest, or folder of audio files).

    Returns:
        tuple: `(paths, kind, manifest)` with kind 'manifest' or 'folder' and the manifest read (or None).
    Raises:
        FileNotFoundError: `data` or a listed file does not exist.
        ValueError: The manifest or folder holds no audio file.
    """
    root = Path(data).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"Evaluation data {str(root)!r} does not exist: give a manifest (data.jsonl or "
                                f"data.jsonl.gz) or a folder of audio files.")
    if root.is_file():
        if not _is_manifest_file(root):
            raise ValueError(f"{str(root)!r} is not a manifest: expected a .jsonl or .jsonl.gz file, or a folder.")
        return _manifest_paths(root), 'manifest', root
    manifest = _find_manifest(root)
    if manifest is not None:
        return _manifest_paths(manifest), 'manifest', manifest
    paths = find_audio_files(root)
    if not paths:
        raise ValueError(f"The folder {str(root)!r} holds no audio files and no manifest "
                         f"({', '.join(MANIFEST_NAMES)}).")
    return paths, 'folder', None


def _segments(wav: torch.Tensor, sample_rate: int, segment: float | None,
              mode: str) -> Iterator[tuple[float, torch.Tensor]]:
    """`(offset seconds, samples [C, S])` of each segment of `wav` `[C, T]`."""
    if segment is None:
        yield 0.0, wav
        return
    size = int(round(segment * sample_rate))
    count = wav.shape[-1] // size
    if count == 0:
        yield 0.0, wav
        return
    for index in range(1 if mode == 'crop' else count):
        yield index * size / sample_rate, wav[:, index * size:(index + 1) * size]


def _unique(name: str, used: set[str]) -> str:
    candidate, suffix = name, 2
    while candidate in used:
        candidate = f"{name}#{suffix}"
        suffix += 1
    used.add(candidate)
    return candidate


def load_evaluation_set(data: PathLike, sample_rate: int, channels: int | None = None, *,
                        segment: float | None = None, segment_mode: str = 'split', max_clips: int | None = None,
                        min_duration: float = DEFAULT_MIN_DURATION) -> EvaluationSet:
    """Load the evaluation clips of `data` at `sample_rate` (see the module docstring).

    Args:
        data (str or Path): Manifest (`.jsonl` / `.jsonl.gz`), folder holding `data.jsonl(.gz)`, or folder
            of audio files.
        sample_rate (int): Rate to resample every clip to.
        channels (int, optional): Channels to convert every clip to; None keeps each file's own.
        segment (float, optional): Segment length in seconds.
        segment_mode (str): 'split' (every whole segment) or 'crop' (the first segment of each file).
        max_clips (int, optional): Keep at most this many clips.
        min_duration (float): Skip clips shorter than this many seconds.
    Returns:
        EvaluationSet: The clips, each `[C, T]` float32.
    Raises:
        FileNotFoundError: `data` or a listed file does not exist.
        ValueError: Bad arguments, or no clip is left.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"The sample rate must be a positive integer, got {sample_rate!r}.")
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels <= 0):
        raise ValueError(f"The number of channels must be a positive integer, got {channels!r}.")
    if segment is not None and not segment > 0:
        raise ValueError(f"The segment length must be a positive number of seconds, got {segment!r}.")
    if segment_mode not in SEGMENT_MODES:
        raise ValueError(f"The segment mode must be one of {', '.join(SEGMENT_MODES)}, got {segment_mode!r}.")
    if max_clips is not None and (isinstance(max_clips, bool) or not isinstance(max_clips, int) or max_clips < 1):
        raise ValueError(f"The maximum number of clips must be a positive integer, got {max_clips!r}.")
    if segment is not None and segment < min_duration:
        raise ValueError(f"Segments of {segment} s are shorter than the minimum clip length of {min_duration} s.")
    paths, kind, manifest = resolve_sources(data)
    clips: list[EvalClip] = []
    skipped: list[str] = []
    used: set[str] = set()
    num_files = 0
    min_samples = int(round(min_duration * sample_rate))
    for path in paths:
        if max_clips is not None and len(clips) >= max_clips:
            break
        wav, _ = read_audio(path, sample_rate=sample_rate)
        num_files += 1
        if channels is not None:
            wav = convert_channels(wav, channels)
        if segment is not None and wav.shape[-1] < int(round(segment * sample_rate)):
            logger.info("%s is shorter than one segment of %g s: kept whole (%.3f s).", path, segment,
                        wav.shape[-1] / sample_rate)
        for offset, piece in _segments(wav, sample_rate, segment, segment_mode):
            if max_clips is not None and len(clips) >= max_clips:
                break
            if piece.shape[-1] < min_samples:
                skipped.append(f"{path} at {offset:g} s ({piece.shape[-1] / sample_rate:.3f} s < {min_duration:g} s)")
                continue
            stem = Path(path).stem
            label = stem if segment is None or (offset == 0 and piece.shape[-1] == wav.shape[-1]) \
                else f"{stem}@{offset:g}s"
            clips.append(EvalClip(name=_unique(label, used), path=str(Path(path).absolute()),
                                  wav=piece.contiguous().float(), sample_rate=sample_rate, offset=offset))
    if skipped:
        logger.warning("Skipped %d clip(s) shorter than %g s:\n  %s", len(skipped), min_duration, '\n  '.join(skipped))
    if not clips:
        raise ValueError(f"No evaluation clip of at least {min_duration:g} s was found in {str(data)!r} "
                         f"({len(paths)} file(s) listed).")
    return EvaluationSet(clips=clips, source=str(Path(data).expanduser().absolute()), kind=kind,
                         manifest=None if manifest is None else str(manifest.absolute()), sample_rate=sample_rate,
                         channels=channels, segment=segment, segment_mode=segment_mode, max_clips=max_clips,
                         num_files=num_files, skipped=skipped)

