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
`describe` tells what a file holds (the command line's `info`); it needs neither torch nor a model.
"""

from __future__ import annotations

from fractions import Fraction
import os
from pathlib import Path
import typing as tp

import numpy as np

from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes
from . import bitstream as bs

if tp.TYPE_CHECKING:
    from ..coding import BandSplitCoding
    from .model_io import Codec


def model_header(model: BandSplitCoding, model_id: bytes, *, length: int, channels: int,
                 num_codebooks: int, metadata: tp.Optional[dict[str, tp.Any]] = None) -> bs.StreamHeader:
    """The header of the streams of `channels` channels of `length` samples coded by `model`."""
    totals = tuple(b.total_codebooks for b in model.branches)
    frame_rate = Fraction(model.branches[-1].frame_rate)
    return bs.StreamHeader(model_id=model_id, sample_rate=model.sample_rate, channels=channels, length=length,
                           num_frames=bs.frames_for_length(length, model.sample_rate, frame_rate),
                           frame_rate=frame_rate, cardinality=model.cardinality,
                           branch_rates=tuple(model.branch_rates), codebooks_per_branch=totals,
                           present_per_branch=bs.present_per_branch(totals, num_codebooks), metadata=metadata or {})


def file_size(header: bs.StreamHeader) -> int:
    """Size in bytes of a file of `header.channels` streams with this header."""
    return header.channels * bs.encoded_size(header)


def write_file(path: PathLike, header: bs.StreamHeader, codes: tp.Any, *, overwrite: bool = False) -> int:
    """Write codes `[C, K_present, F]` (numpy or torch) as a `.bsac` file, atomically; return its size."""
    assert len(codes) == header.channels, (len(codes), header.channels)
    data = b''.join(bs.encode_stream(header, rows) for rows in codes)
    return atomic_write_bytes(path, data, overwrite=overwrite)


def _read_streams(f: tp.BinaryIO, max_codes: int) -> tuple[bs.StreamHeader, np.ndarray]:
    header, first = bs.read_stream(f, max_codes=max_codes, expect_eof=False)
    codes = [first]
    for c in range(1, header.channels):
        try:
            other, rows = bs.read_stream(f, max_codes=max_codes, expect_eof=False)
        except bs.BitstreamError as err:
            raise bs.BitstreamError(f"The stream of channel {c + 1} of {header.channels} is invalid: {err}") from err
        if other != header:
            raise bs.BitstreamError(f"Corrupted file: the header of channel {c + 1} differs from the header of "
                                    f"channel 1.")
        codes.append(rows)
    extra = f.read(4096)
    if extra:
        more = "+" if len(extra) == 4096 else ""
        raise bs.BitstreamError(f"Corrupted file: {len(extra)}{more} unexpected bytes follow its "
                                f"{header.channels} stream(s).")
    return header, np.stack(codes)


def read_file(source: tp.Union[PathLike, tp.BinaryIO], *, max_codes: int = bs.MAX_CODES
              ) -> tuple[bs.StreamHeader, np.ndarray]:
    """Read a `.bsac` file: `(header, codes)`, codes `[C, K_present, F]` int64. Raises `BitstreamError`s."""
    if isinstance(source, str | os.PathLike):
        with open(source, 'rb') as f:
            return _read_streams(f, max_codes)
    return _read_streams(source, max_codes)


def describe(path: PathLike, codec: tp.Optional[Codec] = None) -> dict[str, tp.Any]:
    """What a `.bsac` file holds, as a JSON-friendly dict (the whole file is checked, and with `codec` that
    this model decodes it: `model_check`)."""
    header, _ = read_file(path)
    size = Path(path).stat().st_size
    payload = header.channels * header.payload_size
    info = {
        'path': str(path), 'model_id': header.model_id.hex(), 'sample_rate': header.sample_rate,
        'branch_rates': list(header.branch_rates), 'channels': header.channels, 'length': header.length,
        'duration': header.duration, 'frames': header.num_frames, 'frame_rate': float(header.frame_rate),
        'cardinality': header.cardinality, 'bits_per_code': header.bits,
        'codebooks_per_branch': list(header.codebooks_per_branch),
        'present_per_branch': list(header.present_per_branch), 'present_codebooks': header.present_codebooks,
        'nominal_bitrate': header.channels * header.nominal_bitrate,
        'payload_bitrate': payload * 8 / header.duration, 'file_bitrate': size * 8 / header.duration,
        'size': size, 'header_size': header.header_size, 'payload_size': payload, 'metadata': header.metadata,
    }
    if codec is not None:
        codec.check_stream(header)
        info['model_check'] = f"matches {codec.checkpoint}"
    return info


__all__ = ['describe', 'file_size', 'model_header', 'read_file', 'write_file']
