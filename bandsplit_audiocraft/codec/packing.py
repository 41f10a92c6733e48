"""Codes packed at their true bit width (numpy only): the payload of a `.bsac` stream, one byte-aligned row
of most-significant-bit-first codes per codebook (the layout is in `bitstream`'s docstring)."""

from __future__ import annotations

import typing as tp

import numpy as np

MAX_BITS = 32


def pack_codes(codes: tp.Any, bits: int) -> bytes:
    """Pack codes `[K, F]`, integers in `[0, 2**bits)` (array-like, trusted: `bitstream` checks what it
    writes), at `bits` bits each: `K * ceil(F * bits / 8)` bytes."""
    assert 1 <= bits <= MAX_BITS, bits
    arr = np.asarray(codes)
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

    `data` holds exactly `num_codebooks * ceil(num_frames * bits / 8)` bytes; the padding bits are not read
    (`bitstream` checks that they are 0).
    """
    assert 1 <= bits <= MAX_BITS, bits
    row_bytes = (num_frames * bits + 7) // 8
    raw = np.frombuffer(data, dtype=np.uint8)
    assert raw.size == num_codebooks * row_bytes, (raw.size, num_codebooks, row_bytes)
    if num_codebooks * num_frames == 0:
        return np.zeros((num_codebooks, num_frames), dtype=np.int64)
    raw = raw.reshape(num_codebooks, row_bytes)
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


__all__ = ['pack_codes', 'unpack_codes']
