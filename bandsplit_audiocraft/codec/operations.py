"""What the command line does to one file: compress, decompress, tokenize (`container.describe` describes one).

Every operation streams: audio is read window by window (`audio_stream.open_source`), coded or decoded in
chunks (`streaming`), and written atomically, so a file of any duration codes in bounded memory. Multichannel
audio is coded channel by channel with the mono model (see `container` for the file layout).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
import typing as tp

import numpy as np
import torch

from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes, check_destination
from . import bitstream as bs
from . import container
from .audio_stream import WavWriter, close_source, open_source
from .model_io import Codec
from .streaming import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    iter_decode,
    plan_chunks,
    seconds_to_frames,
)
from .streaming import encode_long as _encode_long


class ProgressBar(tp.Protocol):
    def update(self, n: int) -> tp.Any: ...

    def close(self) -> tp.Any: ...


#: Makes a progress bar for `total` frames described by `desc` (e.g. `functools.partial(tqdm, leave=False)`).
ProgressFactory = tp.Callable[..., ProgressBar]


@dataclasses.dataclass(frozen=True)
class ChunkOptions:
    """How long signals are cut: `chunk_seconds` per window plus `context_seconds` on each side (checked by
    `streaming` when used)."""

    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    context_seconds: float = DEFAULT_CONTEXT_SECONDS
    batch_size: int = DEFAULT_BATCH_SIZE

    def kwargs(self) -> dict[str, tp.Any]:
        return dict(chunk_seconds=self.chunk_seconds, context_seconds=self.context_seconds,
                    batch_size=self.batch_size)

    def num_chunks(self, codec: Codec, num_frames: int) -> int:
        rate = codec.model.frame_rate
        return len(plan_chunks(num_frames, seconds_to_frames(self.chunk_seconds, rate, 1),
                               seconds_to_frames(self.context_seconds, rate)))


def _progress(make: tp.Optional[ProgressFactory], options: ChunkOptions, codec: Codec, frames: int,
              desc: str) -> tp.Optional[ProgressBar]:
    """A bar over the frames of one file, only when the file takes more than one chunk."""
    if make is None or options.num_chunks(codec, frames) <= 1:
        return None
    return make(total=frames, desc=desc, unit='frame')


def encode_audio(codec: Codec, src: PathLike, *, num_codebooks: int, options: ChunkOptions,
                 channels: tp.Optional[int] = None, progress: tp.Optional[ProgressFactory] = None
                 ) -> tuple[torch.Tensor, int]:
    """Codes `[C, K, F]` of an audio file (any format, rate and channel count) and its length at the model rate."""
    model = codec.model
    source = open_source(src, model.sample_rate, channels)
    try:
        bar = _progress(progress, options, codec, model.num_frames(source.length), Path(src).name)
        try:
            codes = _encode_long(model, source, num_codebooks=num_codebooks,
                                 progress=None if bar is None else bar.update, **options.kwargs())
        finally:
            if bar is not None:
                bar.close()
        return codes, source.length
    finally:
        close_source(source)


@dataclasses.dataclass(frozen=True)
class Compressed:
    header: bs.StreamHeader
    size: int

    @property
    def bitrate(self) -> float:
        """Bits per second of the whole file, headers included."""
        return self.size * 8 / self.header.duration


def compress_file(codec: Codec, src: PathLike, dst: PathLike, *, num_codebooks: int, options: ChunkOptions,
                  overwrite: bool = False, progress: tp.Optional[ProgressFactory] = None) -> Compressed:
    """Compress an audio file to a `.bsac` file holding `num_codebooks` codebooks (lowest branch first)."""
    dst = check_destination(dst, overwrite)  # fail before spending time on coding
    codes, length = encode_audio(codec, src, num_codebooks=num_codebooks, options=options, progress=progress)
    header = container.model_header(codec.model, codec.model_id, length=length, channels=codes.shape[0],
                                    num_codebooks=num_codebooks)
    size = container.write_file(dst, header, codes, overwrite=overwrite)
    return Compressed(header, size)


@dataclasses.dataclass(frozen=True)
class Decompressed:
    path: Path
    sample_rate: int
    channels: int
    length: int
    codebooks: int
    clipped: int


def decode_codes(codec: Codec, header: bs.StreamHeader, codes: tp.Any, *, low_band_only: bool = False,
                 rate: tp.Optional[int] = None, options: ChunkOptions = ChunkOptions(),
                 bar: tp.Optional[ProgressBar] = None) -> tuple[int, int, tp.Iterator[torch.Tensor]]:
    """`(rate, codebooks used, blocks)`: the decoded blocks `[C, n]` of a stream's codes `[C, K_present, F]`.

    `low_band_only` keeps the lowest branch's codebooks and outputs at its rate unless `rate` is given.
    """
    codec.check_stream(header)
    model = codec.model
    codes = torch.as_tensor(np.asarray(codes), dtype=torch.long)
    if low_band_only:
        codes = codes[:, :header.present_per_branch[0]]  # never empty: codebooks fill the lowest branch first
    if rate is None:
        rate = model.branch_rates[0] if low_band_only else model.sample_rate
    model.branch_index(rate)  # a ValueError now, before any output, for a rate that is no branch's
    blocks = iter_decode(model, codes, header.length, rate=rate,
                         progress=None if bar is None else bar.update, **options.kwargs())
    return rate, codes.shape[1], blocks


def decompress_file(codec: Codec, src: PathLike, dst: PathLike, *, low_band_only: bool = False,
                    rate: tp.Optional[int] = None, options: ChunkOptions = ChunkOptions(), overwrite: bool = False,
                    progress: tp.Optional[ProgressFactory] = None) -> Decompressed:
    """Decode a `.bsac` file to a 16-bit WAV file, streaming the output to disk."""
    dst = check_destination(dst, overwrite)
    header, codes = container.read_file(src)
    bar = _progress(progress, options, codec, header.num_frames, Path(src).name)
    try:
        rate, used, blocks = decode_codes(codec, header, codes, low_band_only=low_band_only, rate=rate,
                                          options=options, bar=bar)
        with WavWriter(dst, rate, header.channels, overwrite=overwrite) as writer:
            for block in blocks:
                writer.write(block)
    finally:
        if bar is not None:
            bar.close()
    return Decompressed(dst, rate, header.channels, writer.frames, used, writer.clipped)


def save_npy(path: PathLike, array: np.ndarray, *, overwrite: bool = False) -> int:
    """`np.save` atomically; never replaces a file unless `overwrite`."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite)


def tokenize_file(codec: Codec, src: PathLike, dst: PathLike, *, num_codebooks: int, options: ChunkOptions,
                  mono: bool = False, overwrite: bool = False,
                  progress: tp.Optional[ProgressFactory] = None) -> dict[str, tp.Any]:
    """Save the codes of an audio file as an int16 `.npy` array `[C, K, F]`; return its manifest entry."""
    dst = check_destination(dst, overwrite)
    if codec.model.cardinality > np.iinfo(np.int16).max + 1:
        raise ValueError(f"Codebooks of {codec.model.cardinality} entries do not fit int16 tokens.")
    codes, length = encode_audio(codec, src, num_codebooks=num_codebooks, options=options,
                                 channels=1 if mono else None, progress=progress)
    save_npy(dst, codes.numpy().astype(np.int16), overwrite=overwrite)
    model = codec.model
    return {'path': str(Path(src).absolute()), 'codes': str(dst.absolute()), 'channels': int(codes.shape[0]),
            'codebooks': int(codes.shape[1]), 'frames': int(codes.shape[2]),
            'duration': length / model.sample_rate, 'sample_rate': model.sample_rate,
            'frame_rate': model.frame_rate, 'model_id': codec.model_id.hex()}


__all__ = ['ChunkOptions', 'Compressed', 'Decompressed', 'compress_file', 'decode_codes', 'decompress_file',
           'encode_audio', 'save_npy', 'tokenize_file']
