"""The `.bsac` bitstream: codes of one item of a band-split codec, packed at their true bit width.

A stream holds the codes `[K_present, F]` of one item (one signal, all of its channels) encoded by a
band-split model whose branches each emit codes from a residual vector quantizer at a common frame rate.
Codebooks are concatenated lowest branch first, exactly like the model's `encode` output, and every code
takes `bits = ceil(log2(cardinality))` bits (10 bits for 1024-entry codebooks).

Byte layout (format version 1). All integers are little-endian and unsigned; `NB` is the number of
branches and `M` the length of the metadata::

    offset       size  type      field
    0            4     bytes     magic, b'BSAC'
    4            2     u16       format version (1)
    6            2     u16       flags, reserved: 0
    8            16    bytes     model identity (e.g. `export.model_id`: a hash of the exported checkpoint)
    24           4     u32       sample rate of the model's output, Hz
    28           2     u16       channels
    30           2     u16       NB, number of branches in the model (1 to 64)
    32           8     u64       length of the signal in samples at the sample rate (at least 1)
    40           4     u32       frame rate numerator    } the frame rate is the exact rational
    44           4     u32       frame rate denominator  } numerator / denominator Hz, in lowest terms
    48           4     u32       cardinality: entries per codebook (2 to 2**32 - 1), shared by all branches
    52           4     u32       F, number of frames (at least 1)
    56           4     u32       CRC32 (zlib.crc32) of the payload
    60           2     u16       M, length of the metadata in bytes
    62           2     u16       reserved: 0
    64           8*NB            branch table, lowest branch first, one 8-byte entry per branch:
                                   u32 sample rate of the branch, Hz (increasing; the last one is the sample rate)
                                   u16 codebooks of the branch in the model (at least 1)
                                   u16 codebooks of the branch present in this stream (0 to the model's count)
    64+8*NB      M               metadata: a JSON object in UTF-8 (compact, sorted keys; M = 0 for `{}`)
    64+8*NB+M    4     u32       CRC32 (zlib.crc32) of the header bytes above, [0, 64 + 8*NB + M)
    H            P               payload, H = 68 + 8*NB + M

The length and the frame count must agree: `F == max(1, ceil(length * frame_rate / sample_rate))`, the
model's frames for a signal of `length` samples (so the last frame holds less than one frame of padding).
Codebooks present must fill the lowest branch first, as the model's `set_num_codebooks` does: a branch
holds codebooks only when every lower branch holds all of its own. At least one codebook is present.

Payload: codebook-major. Each present codebook, in stream order (branch 0's codebooks 0, 1, ..., then
branch 1's, ...), is one byte-aligned row holding its `F` codes one after the other, each written on
`bits` bits, most significant bit first; the row is padded with zero bits to a whole byte. Hence::

    row_bytes = ceil(F * bits / 8)
    P = K_present * row_bytes                       (K_present = sum of the present codebooks)
    file size = 68 + 8 * NB + M + K_present * ceil(F * bits / 8)

and the payload holds less than one byte of padding per codebook row beyond the nominal
`K_present * bits * F` bits. Because rows are byte-aligned and ordered lowest branch first, the stream
of the lowest branches (or of any prefix of the codebooks) is a byte prefix of the payload: dropping the
upper branches (`truncate_to_branches`) keeps the payload prefix and rewrites the header.

Reading checks every header field, the CRCs, the sizes (against a limit, `max_codes`, before reading the
payload, which is read in bounded chunks), trailing bytes, padding bits and code values: every failure
raises a `BitstreamError` (a `ValueError`) saying what is wrong.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
import io
import json
import math
import numbers
import operator
import os
import struct
import typing as tp
import zlib

import numpy as np

from .packing import pack_codes, unpack_codes

if tp.TYPE_CHECKING:
    import torch

MAGIC = b'BSAC'
FORMAT_VERSION = 1
SUFFIX = '.bsac'
MODEL_ID_SIZE = 16
MAX_BRANCHES = 64
MAX_METADATA_BYTES = 0xFFFF
#: Default limit on `K_present * F` when reading: 2**27 codes (about 93 hours of 8 codebooks at 50 Hz).
MAX_CODES = 1 << 27

_FIXED = struct.Struct('<4sHH16sIHHQIIIIIHH')
_BRANCH = struct.Struct('<IHH')
_CRC = struct.Struct('<I')
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_CHUNK = 1 << 20

CodesLike = tp.Union[np.ndarray, 'torch.Tensor', tp.Sequence[tp.Sequence[int]]]
Source = tp.Union[str, os.PathLike, tp.BinaryIO]


class BitstreamError(ValueError):
    """An invalid stream (not a stream, unknown version, truncated, corrupted), header or codes, or a stream
    of another model; the message says which."""


def frames_for_length(length: int, sample_rate: int, frame_rate: tp.Union[Fraction, float, int]) -> int:
    """Frames the model emits for `length` samples: `max(1, ceil(length * frame_rate / sample_rate))`."""
    rate = _as_fraction(frame_rate)
    return max(1, -((-int(length) * rate.numerator) // (rate.denominator * int(sample_rate))))


def present_per_branch(totals: tp.Sequence[int], num_codebooks: int) -> tuple[int, ...]:
    """Codebooks present in each branch when `num_codebooks` fill the lowest branch first."""
    return tuple(max(0, min(total, num_codebooks - sum(totals[:k]))) for k, total in enumerate(totals))


def _as_fraction(value: tp.Union[Fraction, float, int]) -> Fraction:
    if isinstance(value, numbers.Rational):
        return Fraction(value)
    if not math.isfinite(value):
        raise BitstreamError(f"The frame rate must be finite, got {value!r}.")
    return Fraction(float(value)).limit_denominator(1_000_000)


def _in_range(name: str, value: int, low: int, high: int) -> int:
    value = operator.index(value)
    if not low <= value <= high:
        raise BitstreamError(f"`{name}` must lie in [{low}, {high}], got {value}.")
    return value


def _encode_metadata(metadata: tp.Mapping[str, tp.Any]) -> bytes:
    if not metadata:
        return b''
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(',', ':'), ensure_ascii=False, allow_nan=False)
        return text.encode('utf-8')
    except (TypeError, ValueError, RecursionError) as err:  # UnicodeEncodeError (lone surrogates) is a ValueError
        raise BitstreamError(f"The metadata must be JSON-serializable to UTF-8: {err}") from err


def _decode_metadata(data: bytes) -> dict[str, tp.Any]:
    if not data:
        return {}
    try:
        value = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise BitstreamError(f"The metadata is not valid UTF-8 JSON: {err}") from err
    if not isinstance(value, dict):
        raise BitstreamError(f"The metadata must be a JSON object, got {type(value).__name__}.")
    return value


@dataclasses.dataclass(frozen=True)
class StreamHeader:
    """Everything a stream says about its codes; validated on construction (`BitstreamError`).

    `length` and `sample_rate` always describe the full-band signal, also in a stream holding only the
    lowest branches. `present_per_branch` defaults to `codebooks_per_branch` (every codebook present).
    `metadata` is a JSON object, normalized through JSON (tuples become lists, keys become strings).
    """

    model_id: bytes
    sample_rate: int
    channels: int
    length: int
    num_frames: int
    frame_rate: Fraction
    cardinality: int
    branch_rates: tuple[int, ...]
    codebooks_per_branch: tuple[int, ...]
    present_per_branch: tuple[int, ...] = None  # type: ignore[assignment]  # None: all codebooks present
    metadata: dict[str, tp.Any] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, 'model_id', bytes(self.model_id))
        if len(self.model_id) != MODEL_ID_SIZE:
            raise BitstreamError(f"`model_id` must be {MODEL_ID_SIZE} bytes, got {self.model_id!r}.")
        for name, low, high in (('sample_rate', 1, _U32), ('channels', 1, _U16), ('length', 1, _U64),
                                ('num_frames', 1, _U32), ('cardinality', 2, _U32)):
            set_(self, name, _in_range(name, getattr(self, name), low, high))
        rate = _as_fraction(self.frame_rate)
        if rate <= 0 or rate.numerator > _U32 or rate.denominator > _U32:
            raise BitstreamError(f"The frame rate must be positive with a numerator and denominator below "
                                 f"2**32, got {rate}.")
        set_(self, 'frame_rate', rate)

        def ints(name: str, low: int, high: int) -> tuple[int, ...]:
            return tuple(_in_range(f"{name}[{i}]", v, low, high) for i, v in enumerate(getattr(self, name)))

        rates, totals = ints('branch_rates', 1, _U32), ints('codebooks_per_branch', 1, _U16)
        present = totals if self.present_per_branch is None else ints('present_per_branch', 0, _U16)
        if not 1 <= len(totals) <= MAX_BRANCHES:
            raise BitstreamError(f"A model has 1 to {MAX_BRANCHES} branches, got {len(totals)}.")
        if len(rates) != len(totals) or len(present) != len(totals):
            raise BitstreamError(f"`branch_rates` ({len(rates)}), `codebooks_per_branch` ({len(totals)}) and "
                                 f"`present_per_branch` ({len(present)}) must have one entry per branch.")
        if any(a >= b for a, b in zip(rates, rates[1:], strict=False)) or rates[-1] != self.sample_rate:
            raise BitstreamError(f"Branch rates must increase up to the sample rate {self.sample_rate} Hz, "
                                 f"got {list(rates)}.")
        if sum(present) == 0 or present != present_per_branch(totals, sum(present)):
            raise BitstreamError(f"Codebooks present per branch {list(present)} of {list(totals)} in the model: a "
                                 f"stream holds at least one, filling the lowest branch first.")
        set_(self, 'branch_rates', rates)
        set_(self, 'codebooks_per_branch', totals)
        set_(self, 'present_per_branch', present)

        expected = frames_for_length(self.length, self.sample_rate, rate)
        if self.num_frames != expected:
            raise BitstreamError(f"{self.length} samples at {self.sample_rate} Hz make {expected} frames at "
                                 f"{rate} Hz, but the header says {self.num_frames}.")
        encoded = _encode_metadata(self.metadata)
        if len(encoded) > MAX_METADATA_BYTES:
            raise BitstreamError(f"The metadata takes {len(encoded)} bytes as JSON, more than the "
                                 f"{MAX_METADATA_BYTES} allowed.")
        set_(self, 'metadata', _decode_metadata(encoded))

    @property
    def bits(self) -> int:
        """Bits per code, `ceil(log2(cardinality))`."""
        return (self.cardinality - 1).bit_length()

    @property
    def num_branches(self) -> int:
        return len(self.codebooks_per_branch)

    @property
    def present_codebooks(self) -> int:
        """Codebooks in the stream, `K_present`: the rows of its codes."""
        return sum(self.present_per_branch)

    @property
    def row_bytes(self) -> int:
        """Bytes of one packed codebook row, `ceil(F * bits / 8)`."""
        return (self.num_frames * self.bits + 7) // 8

    @property
    def header_size(self) -> int:
        """Bytes of the header, `68 + 8 * NB + M`."""
        return _FIXED.size + _BRANCH.size * self.num_branches + len(_encode_metadata(self.metadata)) + _CRC.size

    @property
    def payload_size(self) -> int:
        """Bytes of the payload, `K_present * ceil(F * bits / 8)`."""
        return self.present_codebooks * self.row_bytes

    @property
    def duration(self) -> float:
        """Duration of the signal in seconds."""
        return self.length / self.sample_rate

    @property
    def nominal_bitrate(self) -> float:
        """Bits per second of the codes present, `K_present * bits * frame_rate`."""
        return self.present_codebooks * self.bits * float(self.frame_rate)


def encoded_size(header: StreamHeader) -> int:
    """Exact size in bytes of a stream with this header: `68 + 8*NB + M + K_present * ceil(F * bits / 8)`."""
    return header.header_size + header.payload_size


def _encode_header(header: StreamHeader, payload_crc: int) -> bytes:
    metadata = _encode_metadata(header.metadata)
    rate = header.frame_rate
    parts = [_FIXED.pack(MAGIC, FORMAT_VERSION, 0, header.model_id, header.sample_rate, header.channels,
                         header.num_branches, header.length, rate.numerator, rate.denominator, header.cardinality,
                         header.num_frames, payload_crc, len(metadata), 0)]
    parts += [_BRANCH.pack(*entry) for entry in zip(header.branch_rates, header.codebooks_per_branch,
                                                     header.present_per_branch, strict=True)]
    parts.append(metadata)
    body = b''.join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def _check_codes(header: StreamHeader, codes: CodesLike) -> np.ndarray:
    """Codes given to write or truncate as an integer array of the shape `header` announces, in range."""
    if hasattr(codes, 'detach'):  # a torch tensor, without importing torch
        codes = codes.detach().cpu().numpy()
    arr = np.asarray(codes)
    if arr.dtype.kind not in 'iu':
        raise BitstreamError(f"Codes must be integers, got an array of {arr.dtype}.")
    expected = (header.present_codebooks, header.num_frames)
    if arr.shape != expected:
        hint = " (one item: pass codes[0] for a batch of one)" if arr.ndim == 3 and arr.shape[0] == 1 else ""
        raise BitstreamError(f"The header announces codes of shape [{expected[0]}, {expected[1]}] (present "
                             f"codebooks {list(header.present_per_branch)}, {header.num_frames} frames), got "
                             f"{list(arr.shape)}{hint}.")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= header.cardinality:
        raise BitstreamError(f"Codes must lie in [0, {header.cardinality}) (the codebook size), got values in "
                             f"[{lo}, {hi}].")
    return arr


def encode_stream(header: StreamHeader, codes: CodesLike) -> bytes:
    """The bytes of the stream of `codes` `[K_present, F]` under `header`."""
    payload = pack_codes(_check_codes(header, codes), header.bits)
    return _encode_header(header, zlib.crc32(payload)) + payload


def _read_up_to(f: tp.BinaryIO, size: int) -> bytes:
    """Read at most `size` bytes, in chunks, so that memory follows what the file really holds."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = f.read(min(remaining, _CHUNK))
        if not chunk:  # the end, or None: a non-blocking file with no data now
            break
        parts.append(bytes(chunk))
        remaining -= len(chunk)
    return b''.join(parts)


def _truncated(got: int, expected: int, what: str) -> BitstreamError:
    if got == 0:
        return BitstreamError("Truncated stream: the data is empty.")
    return BitstreamError(f"Truncated stream: it ends after {got} bytes, expected {expected} {what}.")


def _read(f: tp.BinaryIO, max_codes: int, expect_eof: bool) -> tuple[StreamHeader, np.ndarray]:
    fixed = _read_up_to(f, _FIXED.size)
    if fixed[:len(MAGIC)] != MAGIC[:len(fixed)]:
        raise BitstreamError(f"Not a bandsplit stream: it starts with {fixed[:len(MAGIC)]!r}, not {MAGIC!r}.")
    if len(fixed) < _FIXED.size:
        raise _truncated(len(fixed), _FIXED.size, "(at least, for the fixed header)")
    (_, version, flags, model_id, sample_rate, channels, num_branches, length, rate_num, rate_den, cardinality,
     num_frames, payload_crc, metadata_size, reserved) = _FIXED.unpack(fixed)
    if version != FORMAT_VERSION:
        raise BitstreamError(f"This stream was written by format version {version}, this reader supports "
                             f"version {FORMAT_VERSION}.")
    header_size = _FIXED.size + _BRANCH.size * num_branches + metadata_size + _CRC.size
    rest = _read_up_to(f, header_size - _FIXED.size)
    if len(rest) < header_size - _FIXED.size:
        raise _truncated(_FIXED.size + len(rest), header_size, "(at least, for the header)")
    body, (header_crc,) = fixed + rest[:-_CRC.size], _CRC.unpack(rest[-_CRC.size:])
    if zlib.crc32(body) != header_crc:
        raise BitstreamError("Corrupted stream: the header checksum does not match.")
    if flags or reserved:
        raise BitstreamError(f"Unknown header flags {flags:#06x} / reserved field {reserved:#06x}: this reader "
                             f"supports none.")
    if rate_den == 0 or math.gcd(rate_num, rate_den) != 1:
        raise BitstreamError(f"Invalid header: the frame rate {rate_num}/{rate_den} is not a fraction in lowest "
                             f"terms.")
    table = [_BRANCH.unpack_from(body, _FIXED.size + _BRANCH.size * k) for k in range(num_branches)]
    metadata_bytes = body[len(body) - metadata_size:]
    metadata = _decode_metadata(metadata_bytes)
    if _encode_metadata(metadata) != metadata_bytes:
        raise BitstreamError("Invalid header: the metadata is not in canonical form (compact JSON, sorted keys).")
    header = StreamHeader(model_id=model_id, sample_rate=sample_rate, channels=channels, length=length,
                          num_frames=num_frames, frame_rate=Fraction(rate_num, rate_den), cardinality=cardinality,
                          branch_rates=[t[0] for t in table], codebooks_per_branch=[t[1] for t in table],
                          present_per_branch=[t[2] for t in table], metadata=metadata)
    num_codes = header.present_codebooks * header.num_frames
    if num_codes > max_codes:
        raise BitstreamError(f"The stream announces {num_codes} codes, more than the limit of {max_codes} "
                             f"(raise `max_codes` to read it).")
    total = header_size + header.payload_size
    payload = _read_up_to(f, header.payload_size)
    if len(payload) < header.payload_size:
        raise _truncated(header_size + len(payload), total, "(header and payload)")
    if expect_eof:
        extra = _read_up_to(f, 4096)
        if extra:
            more = "+" if len(extra) == 4096 else ""
            raise BitstreamError(f"Corrupted stream: {len(extra)}{more} unexpected bytes follow its end at byte "
                                 f"{total}.")
    if zlib.crc32(payload) != payload_crc:
        raise BitstreamError("Corrupted stream: the payload checksum does not match.")
    rows = np.frombuffer(payload, dtype=np.uint8).reshape(header.present_codebooks, header.row_bytes)
    pad = 8 * header.row_bytes - header.num_frames * header.bits
    if pad and np.any(rows[:, -1] & ((1 << pad) - 1)):
        raise BitstreamError("Corrupted stream: padding bits at the end of a codebook row are set.")
    codes = unpack_codes(payload, header.present_codebooks, header.num_frames, header.bits)
    if int(codes.max()) >= header.cardinality:
        raise BitstreamError(f"Corrupted stream: a code is {int(codes.max())}, the codebooks have "
                             f"{header.cardinality} entries.")
    return header, codes


def read_stream(source: Source, *, max_codes: int = MAX_CODES,
                expect_eof: bool = True) -> tuple[StreamHeader, np.ndarray]:
    """Read a stream from a path or a binary file object: `(header, codes)`, codes `[K_present, F]` int64.

    Raises a `BitstreamError` for anything but a valid stream; refuses streams of more than `max_codes`
    codes before reading their payload. With `expect_eof` (the default) the stream must be the whole of the
    file; otherwise the file object is left just after the stream.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, 'rb') as f:
            return _read(f, max_codes, expect_eof)
    return _read(source, max_codes, expect_eof)


def decode_stream(data: tp.Union[bytes, bytearray, memoryview], *,
                  max_codes: int = MAX_CODES) -> tuple[StreamHeader, np.ndarray]:
    """`read_stream` from bytes in memory."""
    return _read(io.BytesIO(bytes(data)), max_codes, expect_eof=True)


CodesT = tp.TypeVar('CodesT')


def truncate_to_branches(header: StreamHeader, codes: CodesT, num_branches: int) -> tuple[StreamHeader, CodesT]:
    """Keep only the codebooks of the lowest `num_branches` branches: e.g. 1 gives the low-band-only stream.

    The codebooks present in higher branches drop to 0; `codes` (`[K_present, F]`, numpy or torch) keeps
    its first rows. The payload of the result is a byte prefix of the original one.
    """
    if not 1 <= num_branches <= header.num_branches:
        raise BitstreamError(f"`num_branches` must lie in [1, {header.num_branches}], got {num_branches!r}.")
    _check_codes(header, codes)
    present = tuple(p if k < num_branches else 0 for k, p in enumerate(header.present_per_branch))
    return dataclasses.replace(header, present_per_branch=present), codes[:sum(present)]  # type: ignore


def check_model(header: StreamHeader, model_id: bytes, **fields: tp.Any) -> None:
    """Raise a `BitstreamError` ("Model mismatch: ...") unless the stream was encoded by the model `model_id`.

    `fields`, header fields of the model (e.g. `sample_rate=32000, branch_rates=[16000, 32000]`), are checked
    too: a model with the same identity always matches them; they make the error clearer.
    """
    problems = []
    if bytes(model_id) != header.model_id:
        problems.append(f"this stream was encoded with model {header.model_id.hex()}, decoding with model "
                        f"{bytes(model_id).hex()}")
    for name, theirs in fields.items():
        ours = getattr(header, name)
        if isinstance(ours, tuple):
            ours, theirs = list(ours), list(theirs)
        elif isinstance(ours, Fraction):
            theirs = _as_fraction(theirs)
        if theirs != ours:
            problems.append(f"{name.replace('_', ' ')}: stream {ours}, model {theirs}")
    if problems:
        raise BitstreamError("Model mismatch: " + "; ".join(problems) + ".")


__all__ = [
    'MAGIC', 'FORMAT_VERSION', 'SUFFIX', 'MAX_CODES', 'BitstreamError', 'StreamHeader', 'frames_for_length',
    'present_per_branch',
    'pack_codes', 'unpack_codes', 'encoded_size', 'encode_stream', 'read_stream', 'decode_stream',
    'truncate_to_branches', 'check_model',
]
