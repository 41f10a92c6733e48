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

Reading checks, in order: the magic, the version, the header CRC, the consistency of every header field,
the payload size against a limit (`max_codes`) before reading it, the payload's presence (the payload is
read in bounded chunks, so a corrupted size field cannot make the reader allocate more than the file
holds), the absence of trailing bytes, the payload CRC, the padding bits, and that every code is below the
cardinality. Every failure raises a `BitstreamError` (a `ValueError`) subclass.

Example:
    >>> import io
    >>> import numpy as np
    >>> header = StreamHeader(model_id=bytes(16), sample_rate=32000, channels=1, length=32000,
    ...                       frame_rate=50, cardinality=1024, branch_rates=(16000, 32000),
    ...                       codebooks_per_branch=(4, 4), num_frames=50)
    >>> codes = np.random.default_rng(0).integers(0, 1024, size=(8, 50))
    >>> f = io.BytesIO()
    >>> write_stream(f, header, codes) == encoded_size(header) == 84 + 8 * 63
    True
    >>> back, decoded = read_stream(io.BytesIO(f.getvalue()))
    >>> back == header and np.array_equal(decoded, codes)
    True
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
import io
import json
import math
import numbers
import os
import struct
import typing as tp
import zlib

import numpy as np

from ..utils.atomic import atomic_write_bytes

if tp.TYPE_CHECKING:
    import torch

MAGIC = b'BSAC'
FORMAT_VERSION = 1
SUFFIX = '.bsac'
MODEL_ID_SIZE = 16
MAX_BRANCHES = 64
MAX_BITS = 32
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
Destination = tp.Union[str, os.PathLike, tp.BinaryIO]
Source = tp.Union[str, os.PathLike, tp.BinaryIO]


class BitstreamError(ValueError):
    """Base class of every error raised on an invalid stream, header or codes."""


class NotAStreamError(BitstreamError):
    """The data does not start with the magic bytes."""


class UnsupportedVersionError(BitstreamError):
    """The stream was written with a format version this reader does not know."""


class TruncatedStreamError(BitstreamError):
    """The stream ends before the size its header announces."""


class CorruptedStreamError(BitstreamError):
    """A checksum does not match, padding bits are set, a code is out of range or bytes trail the stream."""


class InvalidHeaderError(BitstreamError):
    """Header fields are missing, out of range or inconsistent with one another."""


class InvalidCodesError(BitstreamError):
    """Codes given to write have the wrong type, shape or values."""


class ModelMismatchError(BitstreamError):
    """The stream was encoded by another model than the one asked to decode it."""


def bits_for_cardinality(cardinality: int) -> int:
    """Bits per code for codebooks of `cardinality` entries: `ceil(log2(cardinality))`."""
    if isinstance(cardinality, bool) or not isinstance(cardinality, numbers.Integral) or cardinality < 2:
        raise InvalidHeaderError(f"The cardinality must be an integer of at least 2, got {cardinality!r}.")
    return (int(cardinality) - 1).bit_length()


def frames_for_length(length: int, sample_rate: int, frame_rate: tp.Union[Fraction, float, int]) -> int:
    """Frames the model emits for `length` samples: `max(1, ceil(length * frame_rate / sample_rate))`."""
    rate = _as_fraction(frame_rate)
    return max(1, -((-int(length) * rate.numerator) // (rate.denominator * int(sample_rate))))


def _as_fraction(value: tp.Any) -> Fraction:
    if isinstance(value, bool):
        raise InvalidHeaderError(f"The frame rate must be a number, got {value!r}.")
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            raise InvalidHeaderError(f"The frame rate must be finite, got {value!r}.")
        return Fraction(float(value)).limit_denominator(1_000_000)
    if isinstance(value, str):
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError) as err:
            raise InvalidHeaderError(f"Cannot read a frame rate from {value!r}.") from err
    raise InvalidHeaderError(f"The frame rate must be a number, got {type(value).__name__}.")


def _as_int(name: str, value: tp.Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidHeaderError(f"`{name}` must be an integer, got {value!r}.")
    value = int(value)
    if not low <= value <= high:
        raise InvalidHeaderError(f"`{name}` must lie in [{low}, {high}], got {value}.")
    return value


def _as_int_tuple(name: str, values: tp.Any, low: int, high: int) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, tp.Iterable):
        raise InvalidHeaderError(f"`{name}` must be a sequence of integers, got {values!r}.")
    return tuple(_as_int(f"{name}[{i}]", v, low, high) for i, v in enumerate(values))


def _encode_metadata(metadata: tp.Mapping[str, tp.Any]) -> bytes:
    if not metadata:
        return b''
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(',', ':'), ensure_ascii=False, allow_nan=False)
        return text.encode('utf-8')
    except (TypeError, ValueError, RecursionError) as err:  # UnicodeEncodeError (lone surrogates) is a ValueError
        raise InvalidHeaderError(f"The metadata must be JSON-serializable to UTF-8: {err}") from err


def _decode_metadata(data: bytes) -> dict[str, tp.Any]:
    if not data:
        return {}
    try:
        value = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InvalidHeaderError(f"The metadata is not valid UTF-8 JSON: {err}") from err
    if not isinstance(value, dict):
        raise InvalidHeaderError(f"The metadata must be a JSON object, got {type(value).__name__}.")
    return value


@dataclasses.dataclass(frozen=True)
class StreamHeader:
    """Everything a stream says about its codes; validated on construction (`InvalidHeaderError`).

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
        model_id = self.model_id
        if not isinstance(model_id, bytes | bytearray | memoryview) or len(bytes(model_id)) != MODEL_ID_SIZE:
            raise InvalidHeaderError(f"`model_id` must be {MODEL_ID_SIZE} bytes, got {model_id!r}.")
        set_(self, 'model_id', bytes(model_id))
        set_(self, 'sample_rate', _as_int('sample_rate', self.sample_rate, 1, _U32))
        set_(self, 'channels', _as_int('channels', self.channels, 1, _U16))
        set_(self, 'length', _as_int('length', self.length, 1, _U64))
        set_(self, 'num_frames', _as_int('num_frames', self.num_frames, 1, _U32))
        set_(self, 'cardinality', _as_int('cardinality', self.cardinality, 2, _U32))
        rate = _as_fraction(self.frame_rate)
        if rate <= 0 or rate.numerator > _U32 or rate.denominator > _U32:
            raise InvalidHeaderError(f"The frame rate must be positive with a numerator and denominator below "
                                     f"2**32, got {rate}.")
        set_(self, 'frame_rate', rate)

        rates = _as_int_tuple('branch_rates', self.branch_rates, 1, _U32)
        totals = _as_int_tuple('codebooks_per_branch', self.codebooks_per_branch, 1, _U16)
        present = totals if self.present_per_branch is None else _as_int_tuple(
            'present_per_branch', self.present_per_branch, 0, _U16)
        if not 1 <= len(totals) <= MAX_BRANCHES:
            raise InvalidHeaderError(f"A model has 1 to {MAX_BRANCHES} branches, got {len(totals)}.")
        if len(rates) != len(totals) or len(present) != len(totals):
            raise InvalidHeaderError(f"`branch_rates` ({len(rates)}), `codebooks_per_branch` ({len(totals)}) and "
                                     f"`present_per_branch` ({len(present)}) must have one entry per branch.")
        if any(a >= b for a, b in zip(rates, rates[1:], strict=False)) or rates[-1] != self.sample_rate:
            raise InvalidHeaderError(f"Branch rates must increase up to the sample rate {self.sample_rate} Hz, "
                                     f"got {list(rates)}.")
        for k, (p, t) in enumerate(zip(present, totals, strict=True)):
            if p > t:
                raise InvalidHeaderError(f"Branch {k} has {p} codebooks present but only {t} in the model.")
            if p and any(lp < lt for lp, lt in zip(present[:k], totals[:k], strict=True)):
                raise InvalidHeaderError(f"Branch {k} has codebooks present while a lower branch is incomplete "
                                         f"(present {list(present)} of {list(totals)}): codebooks fill the lowest "
                                         f"branch first.")
        if sum(present) == 0:
            raise InvalidHeaderError("A stream must hold at least one codebook; all present counts are 0.")
        set_(self, 'branch_rates', rates)
        set_(self, 'codebooks_per_branch', totals)
        set_(self, 'present_per_branch', present)

        expected = frames_for_length(self.length, self.sample_rate, rate)
        if self.num_frames != expected:
            raise InvalidHeaderError(f"{self.length} samples at {self.sample_rate} Hz make {expected} frames at "
                                     f"{rate} Hz, but the header says {self.num_frames}.")
        if not isinstance(self.metadata, tp.Mapping):
            raise InvalidHeaderError(f"The metadata must be a mapping, got {type(self.metadata).__name__}.")
        encoded = _encode_metadata(self.metadata)
        if len(encoded) > MAX_METADATA_BYTES:
            raise InvalidHeaderError(f"The metadata takes {len(encoded)} bytes as JSON, more than the "
                                     f"{MAX_METADATA_BYTES} allowed.")
        set_(self, 'metadata', _decode_metadata(encoded))

    @property
    def bits(self) -> int:
        """Bits per code, `ceil(log2(cardinality))`."""
        return bits_for_cardinality(self.cardinality)

    @property
    def num_branches(self) -> int:
        return len(self.codebooks_per_branch)

    @property
    def total_codebooks(self) -> int:
        """Codebooks of the model, all branches together."""
        return sum(self.codebooks_per_branch)

    @property
    def present_codebooks(self) -> int:
        """Codebooks in the stream, `K_present`: the rows of its codes."""
        return sum(self.present_per_branch)

    @property
    def branch_slices(self) -> tuple[slice, ...]:
        """For each branch, the rows of the stream's codes `[K_present, F]` that belong to it."""
        bounds = np.cumsum([0, *self.present_per_branch]).tolist()
        return tuple(slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False))

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


def _check_bits(bits: tp.Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= MAX_BITS:
        raise BitstreamError(f"`bits` must be an integer in [1, {MAX_BITS}], got {bits!r}.")
    return int(bits)


def _as_code_array(codes: tp.Any) -> np.ndarray:
    if hasattr(codes, 'detach') and hasattr(codes, 'cpu'):  # a torch tensor, without importing torch
        if getattr(codes, 'is_floating_point', lambda: False)() or getattr(codes, 'is_complex', lambda: False)():
            raise InvalidCodesError(f"Codes must be integers, got a tensor of {codes.dtype}.")
        codes = codes.detach().cpu().numpy()
    arr = np.asarray(codes)
    if arr.dtype.kind not in 'iu':
        raise InvalidCodesError(f"Codes must be integers, got an array of {arr.dtype}.")
    if arr.ndim != 2:
        hint = " (one item: pass codes[0] for a batch of one)" if arr.ndim == 3 and arr.shape[0] == 1 else ""
        raise InvalidCodesError(f"Codes must have shape [K, F], got shape {list(arr.shape)}{hint}.")
    return arr


def _check_range(arr: np.ndarray, high: int, what: str) -> None:
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= high:
            raise InvalidCodesError(f"Codes must lie in [0, {high}) ({what}), got values in [{lo}, {hi}].")


def pack_codes(codes: CodesLike, bits: int) -> bytes:
    """Pack integer codes `[K, F]` at `bits` bits each: one byte-aligned row per codebook, MSB first.

    Returns `K * ceil(F * bits / 8)` bytes. Raises `InvalidCodesError` for non-integer codes, a shape other
    than 2-D or a value outside `[0, 2**bits)`.
    """
    bits = _check_bits(bits)
    arr = _as_code_array(codes)
    _check_range(arr, 1 << bits, f"{bits} bits")
    num_codebooks, num_frames = arr.shape
    values = arr.astype(np.uint64 if bits > 16 else np.uint32, copy=False)
    bit_planes = np.empty((num_codebooks, num_frames, bits), dtype=np.uint8)
    for j in range(bits):  # one vectorized pass per bit plane, most significant first
        bit_planes[:, :, j] = (values >> (bits - 1 - j)) & 1
    packed = np.packbits(bit_planes.reshape(num_codebooks, num_frames * bits), axis=1)  # zero-pads each row
    return packed.tobytes()


def unpack_codes(data: tp.Union[bytes, bytearray, memoryview], num_codebooks: int, num_frames: int,
                 bits: int) -> np.ndarray:
    """Inverse of `pack_codes`: codes `[num_codebooks, num_frames]` as `int64`.

    `data` must hold exactly `num_codebooks * ceil(num_frames * bits / 8)` bytes (else `BitstreamError`),
    with zero padding bits (else `CorruptedStreamError`).
    """
    bits = _check_bits(bits)
    for name, value in (('num_codebooks', num_codebooks), ('num_frames', num_frames)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise BitstreamError(f"`{name}` must be a non-negative integer, got {value!r}.")
    num_codebooks, num_frames = int(num_codebooks), int(num_frames)
    row_bytes = (num_frames * bits + 7) // 8
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != num_codebooks * row_bytes:
        raise BitstreamError(f"{num_codebooks} codebooks of {num_frames} codes at {bits} bits take "
                             f"{num_codebooks * row_bytes} bytes, got {raw.size}.")
    if num_codebooks * num_frames == 0:
        return np.zeros((num_codebooks, num_frames), dtype=np.int64)
    raw = raw.reshape(num_codebooks, row_bytes)
    pad = row_bytes * 8 - num_frames * bits
    if pad and np.any(raw[:, -1] & ((1 << pad) - 1)):
        raise CorruptedStreamError("Corrupted stream: padding bits at the end of a codebook row are set.")
    # Code i starts at bit i * bits of its row: gather the `width` bytes that hold it into one big-endian
    # word, then shift and mask. At most 7 + bits bits are spanned, so 5 bytes suffice up to 32 bits.
    width = (bits + 7 + 7) // 8
    padded = np.zeros((num_codebooks, row_bytes + width), dtype=np.uint8)
    padded[:, :row_bytes] = raw
    start = np.arange(num_frames, dtype=np.int64) * bits
    first = start >> 3
    word = np.zeros((num_codebooks, num_frames), dtype=np.uint64)
    for j in range(width):
        word <<= np.uint64(8)
        word |= padded[:, first + j]
    word >>= (np.uint64(8 * width - bits) - (start & 7).astype(np.uint64))
    word &= np.uint64((1 << bits) - 1)
    return word.astype(np.int64)


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
    arr = _as_code_array(codes)
    expected = (header.present_codebooks, header.num_frames)
    if arr.shape != expected:
        raise InvalidCodesError(f"The header announces codes of shape [{expected[0]}, {expected[1]}] "
                                f"(present codebooks {list(header.present_per_branch)}, {header.num_frames} "
                                f"frames), got {list(arr.shape)}.")
    _check_range(arr, header.cardinality, f"cardinality {header.cardinality}")
    return arr


def encode_stream(header: StreamHeader, codes: CodesLike) -> bytes:
    """The bytes of the stream of `codes` `[K_present, F]` under `header`."""
    if not isinstance(header, StreamHeader):
        raise InvalidHeaderError(f"Expected a StreamHeader, got {type(header).__name__}.")
    payload = pack_codes(_check_codes(header, codes), header.bits)
    return _encode_header(header, zlib.crc32(payload)) + payload


def write_stream(dest: Destination, header: StreamHeader, codes: CodesLike, *, overwrite: bool = False) -> int:
    """Write the stream of `codes` `[K_present, F]` to a path or a binary file object; return its size.

    A path is written atomically (a temporary file in the same folder, renamed into place) and an existing
    file is replaced only with `overwrite=True` (else `FileExistsError`).
    """
    data = encode_stream(header, codes)
    if not isinstance(dest, str | os.PathLike):
        dest.write(data)
        return len(data)
    return atomic_write_bytes(dest, data, overwrite=overwrite)


def _read_up_to(f: tp.BinaryIO, size: int) -> bytes:
    """Read at most `size` bytes, in chunks, so that memory follows what the file really holds."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = f.read(min(remaining, _CHUNK))
        if chunk is None:  # a non-blocking file with no data now: treat as the end
            break
        if not isinstance(chunk, bytes | bytearray):
            raise TypeError(f"Streams are read from binary files, got {type(chunk).__name__} from read().")
        if not chunk:
            break
        parts.append(bytes(chunk))
        remaining -= len(chunk)
    return b''.join(parts)


def _truncated(got: int, expected: int, what: str) -> TruncatedStreamError:
    if got == 0:
        return TruncatedStreamError("Truncated stream: the data is empty.")
    return TruncatedStreamError(f"Truncated stream: it ends after {got} bytes, expected {expected} {what}.")


def _read(f: tp.BinaryIO, max_codes: int, expect_eof: bool) -> tuple[StreamHeader, np.ndarray]:
    fixed = _read_up_to(f, _FIXED.size)
    if fixed[:len(MAGIC)] != MAGIC[:len(fixed)]:
        raise NotAStreamError(f"Not a bandsplit stream: it starts with {fixed[:len(MAGIC)]!r}, not {MAGIC!r}.")
    if len(fixed) < _FIXED.size:
        raise _truncated(len(fixed), _FIXED.size, "(at least, for the fixed header)")
    (_, version, flags, model_id, sample_rate, channels, num_branches, length, rate_num, rate_den, cardinality,
     num_frames, payload_crc, metadata_size, reserved) = _FIXED.unpack(fixed)
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(f"This stream was written by format version {version}, this reader "
                                      f"supports version {FORMAT_VERSION}.")
    if not 1 <= num_branches <= MAX_BRANCHES:
        raise InvalidHeaderError(f"Corrupted header: {num_branches} branches, expected 1 to {MAX_BRANCHES}.")
    header_size = _FIXED.size + _BRANCH.size * num_branches + metadata_size + _CRC.size
    rest = _read_up_to(f, header_size - _FIXED.size)
    if len(rest) < header_size - _FIXED.size:
        raise _truncated(_FIXED.size + len(rest), header_size, "(at least, for the header)")
    body, (header_crc,) = fixed + rest[:-_CRC.size], _CRC.unpack(rest[-_CRC.size:])
    if zlib.crc32(body) != header_crc:
        raise CorruptedStreamError("Corrupted stream: the header checksum does not match.")
    if flags or reserved:
        raise InvalidHeaderError(f"Unknown header flags {flags:#06x} / reserved field {reserved:#06x}: this "
                                 f"reader supports none.")
    if rate_den == 0:
        raise InvalidHeaderError("Invalid header: the frame rate denominator is 0.")
    rate = Fraction(rate_num, rate_den)
    if (rate.numerator, rate.denominator) != (rate_num, rate_den):
        raise InvalidHeaderError(f"Invalid header: the frame rate {rate_num}/{rate_den} is not in lowest terms.")
    table = [_BRANCH.unpack_from(body, _FIXED.size + _BRANCH.size * k) for k in range(num_branches)]
    metadata_bytes = body[len(body) - metadata_size:]
    encoded = _encode_metadata(_decode_metadata(metadata_bytes))
    if encoded != metadata_bytes:
        raise InvalidHeaderError("Invalid header: the metadata is not in canonical form (compact JSON, sorted keys).")
    header = StreamHeader(model_id=model_id, sample_rate=sample_rate, channels=channels, length=length,
                          num_frames=num_frames, frame_rate=rate, cardinality=cardinality,
                          branch_rates=[t[0] for t in table], codebooks_per_branch=[t[1] for t in table],
                          present_per_branch=[t[2] for t in table], metadata=_decode_metadata(metadata_bytes))
    num_codes = header.present_codebooks * header.num_frames
    if num_codes > max_codes:
        raise InvalidHeaderError(f"The stream announces {num_codes} codes, more than the limit of {max_codes} "
                                 f"(raise `max_codes` to read it).")
    total = header_size + header.payload_size
    payload = _read_up_to(f, header.payload_size)
    if len(payload) < header.payload_size:
        raise _truncated(header_size + len(payload), total, "(header and payload)")
    if expect_eof:
        extra = _read_up_to(f, 4096)
        if extra:
            more = "+" if len(extra) == 4096 else ""
            raise CorruptedStreamError(f"Corrupted stream: {len(extra)}{more} unexpected bytes follow its end at "
                                       f"byte {total}.")
    if zlib.crc32(payload) != payload_crc:
        raise CorruptedStreamError("Corrupted stream: the payload checksum does not match.")
    codes = unpack_codes(payload, header.present_codebooks, header.num_frames, header.bits)
    if int(codes.max()) >= header.cardinality:
        raise CorruptedStreamError(f"Corrupted stream: a code is {int(codes.max())}, the codebooks have "
                                   f"{header.cardinality} entries.")
    return header, codes


def read_stream(source: Source, *, max_codes: int = MAX_CODES,
                expect_eof: bool = True) -> tuple[StreamHeader, np.ndarray]:
    """Read a stream from a path or a binary file object: `(header, codes)`, codes `[K_present, F]` int64.

    Raises a `BitstreamError` subclass for anything but a valid stream; refuses streams of more than
    `max_codes` codes before reading their payload. With `expect_eof` (the default) the stream must be
    the whole of the file; otherwise the file object is left just after the stream.
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
    if isinstance(num_branches, bool) or not isinstance(num_branches, numbers.Integral) or \
            not 1 <= num_branches <= header.num_branches:
        raise BitstreamError(f"`num_branches` must lie in [1, {header.num_branches}], got {num_branches!r}.")
    _check_codes(header, codes)
    present = [p if k < num_branches else 0 for k, p in enumerate(header.present_per_branch)]
    if sum(present) == 0:
        raise InvalidHeaderError(f"The lowest {num_branches} branches hold no codebook in this stream "
                                 f"(present {list(header.present_per_branch)}).")
    return dataclasses.replace(header, present_per_branch=tuple(present)), codes[:sum(present)]  # type: ignore


def check_model(header: StreamHeader, model_id: bytes, *, sample_rate: tp.Optional[int] = None,
                channels: tp.Optional[int] = None, frame_rate: tp.Union[Fraction, float, None] = None,
                cardinality: tp.Optional[int] = None, branch_rates: tp.Optional[tp.Sequence[int]] = None,
                codebooks_per_branch: tp.Optional[tp.Sequence[int]] = None) -> None:
    """Raise `ModelMismatchError` unless the stream was encoded by the model `model_id`.

    The other arguments, when given, are checked too (a model with the same identity always matches them;
    they give a clearer error when identities are computed differently).
    """
    problems = []
    if bytes(model_id) != header.model_id:
        problems.append(f"this stream was encoded with model {header.model_id.hex()}, decoding with model "
                        f"{bytes(model_id).hex()}")
    expected: list[tuple[str, tp.Any, tp.Any]] = [
        ('sample rate', header.sample_rate, sample_rate), ('channels', header.channels, channels),
        ('frame rate', header.frame_rate, None if frame_rate is None else _as_fraction(frame_rate)),
        ('cardinality', header.cardinality, cardinality),
        ('branch rates', list(header.branch_rates), None if branch_rates is None else list(branch_rates)),
        ('codebooks per branch', list(header.codebooks_per_branch),
         None if codebooks_per_branch is None else list(codebooks_per_branch))]
    for name, ours, theirs in expected:
        if theirs is not None and theirs != ours:
            problems.append(f"{name}: stream {ours}, model {theirs}")
    if problems:
        raise ModelMismatchError("Model mismatch: " + "; ".join(problems) + ".")


__all__ = [
    'MAGIC', 'FORMAT_VERSION', 'SUFFIX', 'MAX_CODES', 'BitstreamError', 'NotAStreamError',
    'UnsupportedVersionError', 'TruncatedStreamError', 'CorruptedStreamError', 'InvalidHeaderError',
    'InvalidCodesError', 'ModelMismatchError', 'StreamHeader', 'bits_for_cardinality', 'frames_for_length',
    'pack_codes', 'unpack_codes', 'encoded_size', 'encode_stream', 'write_stream', 'read_stream', 'decode_stream',
    'truncate_to_branches', 'check_model',
]
