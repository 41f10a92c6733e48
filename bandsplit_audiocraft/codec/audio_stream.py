"""Reading and writing audio window by window, so that long files never sit whole in memory.

`WaveformSource` is what `streaming.encode_long` reads: a signal at a fixed rate, `[C, T]`, of which any
window `[start, stop)` can be read. `TensorSource` wraps a tensor; `SoundFileSource` streams a file that
soundfile reads block by block (wav, flac, ogg, aiff...) and resamples each window with julius, reading enough input
around the window that the result equals resampling the whole file (`read_audio`) up to float rounding.
The file is decoded sequentially, keeping only the overlap between consecutive windows: seeking is not
sample-exact in lossy formats (ogg vorbis), sequential decoding is. MP3 files are read whole.
`open_source` picks one, falling back to reading the whole file with `read_audio` (e.g. mp3 through PyAV).

`WavWriter` writes a WAV file block by block, atomically: the blocks go to a temporary file in the target
folder which is renamed into place when the writer closes without error, and an existing file is replaced
only with `overwrite=True`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
import typing as tp

import julius
import numpy as np
import soundfile
import torch

from ..data.audio_io import convert_channels, read_audio
from ..utils import PathLike
from ..utils.atomic import check_destination, publish, temporary_sibling

#: soundfile formats streamed block by block. Others (e.g. MP3, whose block reads in libsndfile 1.2 do not
#: always match a whole-file read) are read whole with `read_audio`.
STREAMED_FORMATS = frozenset({'WAV', 'WAVEX', 'RF64', 'W64', 'FLAC', 'OGG', 'AIFF', 'AU', 'CAF'})


class WaveformSource(tp.Protocol):
    """A signal `[channels, length]` at `sample_rate` that can be read window by window."""

    sample_rate: int
    channels: int
    length: int

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Samples `[start, stop)` as a float tensor `[channels, stop - start]`, `0 <= start < stop <= length`."""
        ...


class TensorSource:
    """A `WaveformSource` over a tensor `[C, T]` held in memory."""

    def __init__(self, wav: torch.Tensor, sample_rate: int):
        if wav.dim() != 2 or wav.numel() == 0:
            raise ValueError(f"Expected a non-empty waveform of shape [C, T] (channels, time), got {list(wav.shape)}.")
        self.wav = wav
        self.sample_rate = int(sample_rate)
        self.channels = int(wav.shape[0])
        self.length = int(wav.shape[1])

    def read(self, start: int, stop: int) -> torch.Tensor:
        assert 0 <= start < stop <= self.length, (start, stop, self.length)
        return self.wav[:, start:stop]


class SoundFileSource:
    """A `WaveformSource` streaming a file through soundfile, resampled to `sample_rate` window by window.

    The length at `sample_rate` is `floor(frames * sample_rate / file_rate)`, as `read_audio` gives. With
    `channels`, the file is downmixed to mono (1) or a mono file duplicated, as `read_audio` does.
    Use as a context manager, or call `close()`.
    """

    def __init__(self, path: PathLike, sample_rate: tp.Optional[int] = None, channels: tp.Optional[int] = None):
        self.path = Path(path)
        self._file = soundfile.SoundFile(str(self.path))
        try:
            if self._file.format not in STREAMED_FORMATS:
                raise ValueError(f"{self._file.format} files are not streamed; read them whole.")
            self.file_rate = int(self._file.samplerate)
            self.file_frames = int(self._file.frames)
            if self.file_frames <= 0:
                raise ValueError(f"Audio file {str(self.path)!r} holds no audio samples.")
            self.sample_rate = self.file_rate if sample_rate is None else int(sample_rate)
            self.file_channels = int(self._file.channels)
            self._target_channels = channels
            self.channels = self.file_channels if channels is None else int(channels)
            gcd = math.gcd(self.file_rate, self.sample_rate)
            self._old, self._new = self.file_rate // gcd, self.sample_rate // gcd
            self.length = self.file_frames * self._new // self._old
            if self.length <= 0:
                raise ValueError(f"Audio file {str(self.path)!r} is too short to resample to {self.sample_rate} Hz.")
            self._restart()
            self._resampler: tp.Optional[julius.ResampleFrac] = None
            if self._old != self._new:
                self._resampler = julius.ResampleFrac(self.file_rate, self.sample_rate)
                # Input blocks of `old` samples give `new` output samples; each block's outputs read at most
                # `width` samples beyond the block, i.e. `margin` whole blocks.
                self._margin = math.ceil(self._resampler._width / self._old) + 1
        except BaseException:
            self._file.close()
            raise

    def _restart(self) -> None:
        self._file.seek(0)
        self._pos = 0  # frames of the file decoded so far
        self._buffer = np.zeros((0, self.file_channels), dtype=np.float32)  # frames [pos - len, pos)

    def _read_file(self, start: int, stop: int) -> torch.Tensor:
        """File frames `[start, stop)`, decoded sequentially (exact for every format, lossy ones included)."""
        if start < self._pos - len(self._buffer):  # going backwards: decode again from the beginning
            self._restart()
        while self._pos < start:  # skip forward without keeping anything
            skipped = self._file.read(min(start - self._pos, 1 << 20), dtype='float32', always_2d=True)
            if not len(skipped):
                break
            self._pos += len(skipped)
            self._buffer = self._buffer[:0]
        keep = self._buffer[max(0, len(self._buffer) - (self._pos - start)):]
        if stop > self._pos:
            data = self._file.read(stop - self._pos, dtype='float32', always_2d=True)
            self._pos += len(data)
            keep = np.concatenate([keep, data]) if len(keep) else data
        self._buffer = keep
        if self._pos < stop:
            raise ValueError(f"Audio file {str(self.path)!r} ended after {self._pos} samples, its header "
                             f"announces {self.file_frames}.")
        window = keep[:stop - start]
        return torch.from_numpy(np.ascontiguousarray(window.T))

    def read(self, start: int, stop: int) -> torch.Tensor:
        assert 0 <= start < stop <= self.length, (start, stop, self.length)
        if self._resampler is None:
            wav = self._read_file(start, stop)
        else:
            first = max(0, start // self._new - self._margin)   # input blocks to read, with margin
            last = min(math.ceil(self.file_frames / self._old), -(-stop // self._new) + self._margin)
            begin, end = first * self._old, min(self.file_frames, last * self._old)
            out = self._resampler(self._read_file(begin, end), full=True)
            offset = first * self._new
            wav = out[:, start - offset:stop - offset]
        if self._target_channels is not None:
            wav = convert_channels(wav, self._target_channels)
        return wav.contiguous()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SoundFileSource:
        return self

    def __exit__(self, *exc: tp.Any) -> None:
        self.close()


def open_source(path: PathLike, sample_rate: int, channels: tp.Optional[int] = None
                ) -> tp.Union[SoundFileSource, TensorSource]:
    """A source for an audio file at `sample_rate`: streamed for `STREAMED_FORMATS`, else read whole.

    Raises `FileNotFoundError` for a missing file and `ValueError` for anything that is not readable audio
    (`read_audio` says which).
    """
    try:
        return SoundFileSource(path, sample_rate, channels)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError):
        wav, sr = read_audio(path, sample_rate=sample_rate, channels=channels)  # raises a ValueError if unreadable
        return TensorSource(wav, sr)


def close_source(source: tp.Any) -> None:
    """Close a source if it holds a file."""
    close = getattr(source, 'close', None)
    if close is not None:
        close()


class WavWriter:
    """Write a WAV file `[channels, T]` block by block, atomically (temporary file renamed on success).

    PCM output clips samples to [-1, 1]; `clipped` counts the clipped samples. Use as a context manager: an
    exception inside the block removes the temporary file and leaves `path` untouched.
    """

    def __init__(self, path: PathLike, sample_rate: int, channels: int, *, overwrite: bool = False,
                 subtype: str = 'PCM_16'):
        self.path = Path(path)
        if self.path.suffix.lower() != '.wav':
            raise ValueError(f"The output must be a .wav file, got {str(self.path)!r}.")
        check_destination(self.path, overwrite)
        self.overwrite = overwrite
        self.channels = int(channels)
        self.clip = subtype.upper().startswith('PCM')
        self.clipped = 0
        self.frames = 0
        fd, self._tmp = temporary_sibling(self.path)
        os.close(fd)
        try:
            self._file = soundfile.SoundFile(str(self._tmp), 'w', samplerate=int(sample_rate), channels=self.channels,
                                             subtype=subtype, format='WAV')
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def write(self, block: torch.Tensor) -> None:
        """Append samples `[channels, n]`."""
        assert block.dim() == 2 and block.shape[0] == self.channels, (block.shape, self.channels)
        data = block.detach().float().cpu().numpy().T
        if self.clip:
            over = np.abs(data) > 1.0
            if over.any():
                self.clipped += int(over.sum())
                data = np.clip(data, -1.0, 1.0)
        self._file.write(np.ascontiguousarray(data))
        self.frames += data.shape[0]

    def commit(self) -> Path:
        """Close the file and move it into place."""
        self._file.close()
        return publish(self._tmp, self.path, self.overwrite)

    def abort(self) -> None:
        """Drop the temporary file."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: tp.Any, *exc: tp.Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


__all__ = ['SoundFileSource', 'TensorSource', 'WaveformSource', 'WavWriter', 'close_source', 'open_source']
