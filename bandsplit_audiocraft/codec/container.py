"""`.bsac` files: one `bitstream` stream per channel, for signals of any channel count.

A band-split model is mono: the command line codes each channel of a multichannel signal separately. The
bitstream format (`bitstream.py`) holds the codes `[K_present, F]` of one coded signal, so a file of `C`
channels is `C` complete streams written one after the other, channel 0 first. Every stream carries the
same header, whose `channels` field is `C`: a reader learns from the first header how many streams follow.
A mono file is exactly one stream, so any `bitstream.read_stream` reader decodes it::

    file = stream(channel 0) + stream(channel 1) + ... + stream(channel C - 1)
    size = C * encoded_size(header) = C * (68 + 8 * NB + M + K_present * ceil(F * bits / 8))

Codes of a whole file are handled as `[C, K_present, F]`, the layout `streaming.encode_long` returns.
Writing is atomic (temporary file renamed into place) and refuses to replace a file unless `overwrite`.
"""

from __future__ import annotations

from fractions import Fraction
import os
from pathlib import Path
import typing as tp

import numpy as np

from ..utils.atomic import atomic_write_bytes
from . import bitstream as bs

if tp.TYPE_CHECKING:
    from ..models.bandsplit import BandSplitCompressionModel

PathLike = tp.Union[str, os.PathLike]


def present_per_branch(totals: tp.Sequence[int], num_codebooks: int) -> tuple[int, ...]:
    """Codebooks present in each branch when `num_codebooks` fill the lowest branch first."""
    if not 1 <= num_codebooks <= sum(totals):
        raise ValueError(f"The number of codebooks must lie between 1 and {sum(totals)}, got {num_codebooks}.")
    present = []
    for total in totals:
        present.append(min(total, num_codebooks))
        num_codebooks -= present[-1]
    return tuple(present)


def model_header(model: BandSplitCompressionModel, model_id: bytes, *, length: int, channels: int,
                 num_codebooks: int, metadata: tp.Optional[dict[str, tp.Any]] = None) -> bs.StreamHeader:
    """The header of the streams of `channels` channels of `length` samples coded by `model`."""
    totals = tuple(b.total_codebooks for b in model.branches)
    frame_rate = Fraction(model.branches[-1].frame_rate)
    return bs.StreamHeader(model_id=model_id, sample_rate=model.sample_rate, channels=channels, length=length,
                           num_frames=bs.frames_for_length(length, model.sample_rate, frame_rate),
                           frame_rate=frame_rate, cardinality=model.cardinality,
                           branch_rates=tuple(model.branch_rates), codebooks_per_branch=totals,
                           present_per_branch=present_per_branch(totals, num_codebooks), metadata=metadata or {})


def file_size(header: bs.StreamHeader) -> int:
    """Size in bytes of a file of `header.channels` streams with this header."""
    return header.channels * bs.encoded_size(header)


def encode_file(header: bs.StreamHeader, codes: tp.Any) -> bytes:
    """The bytes of a file holding codes `[C, K_present, F]` (C = `header.channels`)."""
    arr = np.asarray(codes.detach().cpu().numpy() if hasattr(codes, 'detach') else codes)
    if arr.ndim != 3 or arr.shape[0] != header.channels:
        raise bs.InvalidCodesError(f"Expected codes of shape [{header.channels}, K, F] for {header.channels} "
                                   f"channel(s), got {list(arr.shape)}.")
    return b''.join(bs.encode_stream(header, arr[c]) for c in range(header.channels))


def write_file(path: PathLike, header: bs.StreamHeader, codes: tp.Any, *, overwrite: bool = False) -> int:
    """Write codes `[C, K_present, F]` as a `.bsac` file, atomically; return its size in bytes."""
    return atomic_write_bytes(path, encode_file(header, codes), overwrite=overwrite)


def _read_streams(f: tp.BinaryIO, max_codes: int) -> tuple[bs.StreamHeader, np.ndarray]:
    header, first = bs.read_stream(f, max_codes=max_codes, expect_eof=False)
    codes = [first]
    for c in range(1, header.channels):
        try:
            other, rows = bs.read_stream(f, max_codes=max_codes, expect_eof=False)
        except bs.TruncatedStreamError as err:
            raise bs.TruncatedStreamError(f"Truncated file: the stream of channel {c + 1} of {header.channels} is "
                                          f"incomplete ({err})") from err
        if other != header:
            raise bs.CorruptedStreamError(f"Corrupted file: the header of channel {c + 1} differs from the header "
                                          f"of channel 1.")
        codes.append(rows)
    extra = f.read(4096)
    if extra:
        more = "+" if len(extra) == 4096 else ""
        raise bs.CorruptedStreamError(f"Corrupted file: {len(extra)}{more} unexpected bytes follow its "
                                      f"{header.channels} stream(s).")
    return header, np.stack(codes)


def read_file(source: tp.Union[PathLike, tp.BinaryIO], *, max_codes: int = bs.MAX_CODES
              ) -> tuple[bs.StreamHeader, np.ndarray]:
    """Read a `.bsac` file: `(header, codes)`, codes `[C, K_present, F]` int64. Raises `BitstreamError`s."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Compressed file {str(path)!r} does not exist.")
        if path.is_dir():
            raise ValueError(f"Cannot read {str(path)!r}: it is a directory.")
        with open(path, 'rb') as f:
            return _read_streams(f, max_codes)
    return _read_streams(source, max_codes)


def read_header(source: PathLike) -> bs.StreamHeader:
    """The header of a `.bsac` file, after checking the whole file (`read_file`)."""
    return read_file(source)[0]


__all__ = ['atomic_write_bytes', 'encode_file', 'file_size', 'model_header', 'present_per_branch', 'read_file',
           'read_header', 'write_file']
