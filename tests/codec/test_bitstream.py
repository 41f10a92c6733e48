"""The `.bsac` bitstream: bit packing, file round trips, sizes, truncation, errors and a corruption fuzz test."""
import dataclasses
from fractions import Fraction
import io
import math
import os
import signal
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import torch

from bandsplit_audiocraft.codec import bitstream as bs
from bandsplit_audiocraft.codec import container
from bandsplit_audiocraft.codec.bitstream import BitstreamError, StreamHeader

MODEL_ID = bytes(range(16))


def make_header(length: int = 10_000, **overrides) -> StreamHeader:
    fields = dict(model_id=MODEL_ID, sample_rate=32000, channels=1, length=length, frame_rate=50,
                  cardinality=1024, branch_rates=(16000, 32000), codebooks_per_branch=(4, 4))
    fields.update(overrides)
    if 'num_frames' not in fields:
        fields['num_frames'] = bs.frames_for_length(fields['length'], fields['sample_rate'], fields['frame_rate'])
    return StreamHeader(**fields)


def random_codes(header: StreamHeader, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, header.cardinality, size=(header.present_codebooks, header.num_frames))
    codes.flat[0], codes.flat[-1] = 0, header.cardinality - 1  # the extremes
    return codes


def reference_pack(codes: np.ndarray, bits: int) -> bytes:
    """Slow, obviously right packing of the documented layout: rows of MSB-first codes, zero-padded."""
    out = b''
    for row in codes.tolist():
        text = ''.join(format(v, f'0{bits}b') for v in row)
        text += '0' * (-len(text) % 8)
        out += int(text, 2).to_bytes(len(text) // 8, 'big') if text else b''
    return out


# ---------------------------------------------------------------------------------------------- bit packing

@pytest.mark.parametrize('bits', [*range(1, 17), 17, 24, 31, 32])
def test_pack_unpack_round_trip(bits):
    rng = np.random.default_rng(bits)
    shapes = [(1, 1), (1, 7), (5, 1), (3, 8), *[tuple(rng.integers(1, 40, size=2)) for _ in range(4)], (2, 1001)]
    for shape in shapes:
        codes = rng.integers(0, 1 << bits, size=shape, dtype=np.uint64 if bits > 31 else np.int64)
        codes.flat[0] = (1 << bits) - 1
        data = bs.pack_codes(codes, bits)
        assert len(data) == shape[0] * math.ceil(shape[1] * bits / 8)
        if shape[0] * shape[1] <= 500:
            assert data == reference_pack(codes, bits)
        back = bs.unpack_codes(data, shape[0], shape[1], bits)
        assert back.dtype == np.int64 and back.shape == shape
        np.testing.assert_array_equal(back, codes.astype(np.int64))


def test_pack_bit_order_is_msb_first_with_zero_padding():
    assert bs.pack_codes(np.array([[1, 1023]]), 10) == bytes([0x00, 0x7F, 0xF0])
    assert bs.pack_codes(np.array([[1], [1]]), 3) == bytes([0x20, 0x20])  # one padded byte per codebook row


def test_pack_accepts_torch_and_empty():
    codes = torch.randint(0, 1024, (8, 33))
    assert bs.pack_codes(codes, 10) == bs.pack_codes(codes.numpy(), 10)
    assert bs.pack_codes(np.zeros((0, 5), np.int64), 10) == b''
    assert bs.unpack_codes(b'', 0, 5, 10).shape == (0, 5)


def test_pack_unpack_ten_minutes_of_codes():
    codes = np.random.default_rng(0).integers(0, 1024, size=(8, 30_000))  # 10 min at 50 Hz, 8 codebooks
    data = bs.pack_codes(codes, 10)
    assert len(data) == 8 * 37_500
    np.testing.assert_array_equal(bs.unpack_codes(data, 8, 30_000, 10), codes)


# ------------------------------------------------------------------------------------------------ the file

def test_file_round_trip_and_exact_size(tmp_path):
    header = make_header(length=123_457, metadata={'codec': 'bandsplit', 'note': 'é', 'bands': [16000, 32000]})
    codes = random_codes(header)
    path = tmp_path / f'item{bs.SUFFIX}'
    written = container.write_file(path, header, codes[None])  # a mono file is one stream
    back, decoded = bs.read_stream(path)
    assert back == header
    np.testing.assert_array_equal(decoded, codes)

    metadata_size = len(b'{"bands":[16000,32000],"codec":"bandsplit","note":"\xc3\xa9"}')
    assert header.num_frames == 193 and header.bits == 10
    expected = 68 + 8 * 2 + metadata_size + 8 * math.ceil(193 * 10 / 8)
    assert os.path.getsize(path) == written == bs.encoded_size(header) == expected
    assert header.header_size == 68 + 8 * 2 + metadata_size and header.payload_size == 8 * 242
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


def test_file_object_round_trip_and_consecutive_streams():
    first, second = make_header(length=640), make_header(length=64_000, present_per_branch=(4, 2))
    f = io.BytesIO(bs.encode_stream(first, random_codes(first, 1)) + bs.encode_stream(second, random_codes(second, 2)))
    h1, c1 = bs.read_stream(f, expect_eof=False)
    h2, c2 = bs.read_stream(f)
    assert (h1, h2) == (first, second)
    np.testing.assert_array_equal(c1, random_codes(first, 1))
    np.testing.assert_array_equal(c2, random_codes(second, 2))


def test_headers_round_trip_rational_frame_rates_and_many_branches():
    header = make_header(length=48_001, sample_rate=48000, frame_rate=Fraction(160, 3), cardinality=5,
                         branch_rates=(16000, 32000, 48000), codebooks_per_branch=(2, 1, 3),
                         present_per_branch=(2, 1, 1), channels=2)
    assert header.num_frames == math.ceil(48_001 / 900) and header.bits == 3
    back, codes = bs.decode_stream(bs.encode_stream(header, random_codes(header)))
    assert back == header and back.frame_rate == Fraction(160, 3)
    np.testing.assert_array_equal(codes, random_codes(header))
    assert make_header(frame_rate=50.0) == make_header(frame_rate=Fraction(50))
    assert make_header(sample_rate=32000, frame_rate=32000 / 600).frame_rate == Fraction(160, 3)


@pytest.mark.parametrize('present', [(4, 4), (4, 0), (1, 0), (4, 3)])
def test_bitrate_on_disk_matches_nominal(present):
    header = make_header(length=32000 * 7 + 123, present_per_branch=present)
    payload_bits = 8 * (len(bs.encode_stream(header, random_codes(header))) - header.header_size)
    nominal_bits = header.present_codebooks * header.bits * header.num_frames
    assert header.nominal_bitrate == sum(present) * 10 * 50
    assert 0 <= payload_bits - nominal_bits < 8 * header.present_codebooks  # under a byte per codebook row
    seconds = header.num_frames / float(header.frame_rate)
    assert abs(payload_bits / seconds - header.nominal_bitrate) < 8 * header.present_codebooks / seconds


def test_truncate_to_low_branch(tmp_path):
    header = make_header(length=50_000, metadata={'k': 1})
    codes = random_codes(header)
    low_header, low_codes = bs.truncate_to_branches(header, codes, 1)
    assert low_header.present_per_branch == (4, 0) and low_header.codebooks_per_branch == (4, 4)
    assert dataclasses.replace(low_header, present_per_branch=None) == header
    np.testing.assert_array_equal(low_codes, codes[:4])

    full, low = bs.encode_stream(header, codes), bs.encode_stream(low_header, low_codes)
    assert len(low) == bs.encoded_size(low_header) == header.header_size + 4 * header.row_bytes
    assert low[low_header.header_size:] == full[header.header_size:header.header_size + 4 * header.row_bytes]
    container.write_file(tmp_path / 'low.bsac', low_header, low_codes[None])
    back, decoded = bs.read_stream(tmp_path / 'low.bsac')
    assert back == low_header
    np.testing.assert_array_equal(decoded, codes[:4])

    same_header, same_codes = bs.truncate_to_branches(header, torch.from_numpy(codes), 2)  # torch works too
    assert same_header == header and torch.equal(same_codes, torch.from_numpy(codes))
    partial = make_header(present_per_branch=(3, 0))
    assert bs.truncate_to_branches(partial, random_codes(partial), 1)[0] == partial
    with pytest.raises(BitstreamError, match='num_branches'):
        bs.truncate_to_branches(header, codes, 0)
    with pytest.raises(BitstreamError, match='shape'):
        bs.truncate_to_branches(header, codes[:5], 1)


def test_write_refuses_to_overwrite(tmp_path):
    header = make_header()
    path = tmp_path / 'x.bsac'
    container.write_file(path, header, random_codes(header, 1)[None])
    with pytest.raises(FileExistsError, match='already exists'):
        container.write_file(path, header, random_codes(header, 2)[None])
    np.testing.assert_array_equal(bs.read_stream(path)[1], random_codes(header, 1))
    container.write_file(path, header, random_codes(header, 2)[None], overwrite=True)
    np.testing.assert_array_equal(bs.read_stream(path)[1], random_codes(header, 2))
    assert sorted(os.listdir(tmp_path)) == ['x.bsac']


def test_write_rejects_bad_codes():
    header = make_header(cardinality=1000)
    codes = random_codes(header)
    too_large, negative = codes.copy(), codes.copy()
    too_large[3, 2] = 1000  # fits in 10 bits, but not in the codebook
    negative[0, 0] = -1
    for wrong, match in [(too_large, r'\[0, 1000\)'), (negative, r'values in \[-1, '),
                         (codes[:, :-1], r'shape \[8, 16\]'), (codes[0], r'shape \[8, 16\]'),
                         (codes[None], r'codes\[0\]'), (codes.astype(np.float32), 'integers'),
                         (torch.zeros(8, 16), 'integers'), (codes > 0, 'integers')]:
        with pytest.raises(BitstreamError, match=match):
            bs.encode_stream(header, wrong)


@pytest.mark.parametrize('overrides, match', [
    (dict(present_per_branch=(4, 5)), r'present per branch \[4, 5\] of \[4, 4\]'),
    (dict(present_per_branch=(3, 1)), 'filling the lowest branch first'),
    (dict(present_per_branch=(0, 0)), 'at least one'),
    (dict(present_per_branch=(4,)), 'one entry per branch'),
    (dict(num_frames=0), 'num_frames'),
    (dict(num_frames=17), 'make 16 frames'),
    (dict(length=0), 'length'),
    (dict(cardinality=1), 'cardinality'),
    (dict(cardinality=2 ** 32), 'cardinality'),
    (dict(model_id=b'abc'), 'model_id'),
    (dict(branch_rates=(32000, 16000)), 'increase'),
    (dict(branch_rates=(16000, 24000)), 'increase up to the sample rate'),
    (dict(codebooks_per_branch=(4, 0)), 'codebooks_per_branch'),
    (dict(codebooks_per_branch=(1,) * 65, branch_rates=tuple(range(31936, 32001))), '1 to 64 branches'),
    (dict(frame_rate=-50), 'frame rate'),
    (dict(frame_rate=float('nan')), 'finite'),
    (dict(frame_rate=Fraction(1, 2 ** 33)), 'below 2\\*\\*32'),
    (dict(channels=0), 'channels'),
    (dict(metadata={'x': object()}), 'JSON'),
    (dict(metadata={'x': 'y' * 70_000}), 'more than the 65535'),
    (dict(metadata=[1, 2]), 'JSON object'),
])
def test_header_validation(overrides, match):
    with pytest.raises(BitstreamError, match=match):
        make_header(**overrides)


def test_check_model():
    header = make_header()
    bs.check_model(header, MODEL_ID, sample_rate=32000, channels=1, frame_rate=50.0, cardinality=1024,
                   branch_rates=[16000, 32000], codebooks_per_branch=[4, 4])
    other = bytes(range(100, 116))
    with pytest.raises(BitstreamError, match=f'Model mismatch: this stream was encoded with model {MODEL_ID.hex()}, '
                                             f'decoding with model {other.hex()}'):
        bs.check_model(header, other)
    with pytest.raises(BitstreamError, match=r'codebooks per branch: stream \[4, 4\], model \[2, 2\]'):
        bs.check_model(header, MODEL_ID, codebooks_per_branch=[2, 2])


# ------------------------------------------------------------------------------------------- reading errors

def resign(data: bytes) -> bytes:
    """Recompute the payload and header checksums of a (tampered) stream whose header layout is intact."""
    buf = bytearray(data)
    num_branches, metadata_size = struct.unpack_from('<H', buf, 30)[0], struct.unpack_from('<H', buf, 60)[0]
    header_size = 68 + 8 * num_branches + metadata_size
    struct.pack_into('<I', buf, 56, zlib.crc32(buf[header_size:]))
    struct.pack_into('<I', buf, header_size - 4, zlib.crc32(buf[:header_size - 4]))
    return bytes(buf)


def test_reading_errors_are_clear(tmp_path):
    header = make_header()
    data = bs.encode_stream(header, random_codes(header))
    with pytest.raises(BitstreamError, match="Not a bandsplit stream"):
        bs.decode_stream(b'RIFF' + data[4:])
    with pytest.raises(BitstreamError, match='written by format version 2, this reader supports version 1'):
        bs.decode_stream(data[:4] + b'\x02\x00' + data[6:])
    with pytest.raises(BitstreamError, match=f'Truncated stream: it ends after 100 bytes, expected {len(data)}'):
        bs.decode_stream(data[:100])
    with pytest.raises(BitstreamError, match='Truncated stream: the data is empty'):
        bs.decode_stream(b'')
    with pytest.raises(BitstreamError, match='payload checksum'):
        bs.decode_stream(data[:-1] + bytes([data[-1] ^ 0x10]))
    with pytest.raises(BitstreamError, match='header checksum'):
        bs.decode_stream(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    with pytest.raises(BitstreamError, match='unexpected bytes'):
        bs.decode_stream(data + b'\x00')
    with pytest.raises(FileNotFoundError):
        bs.read_stream(tmp_path / 'missing.bsac')

    card = make_header(cardinality=1000)  # 10 bits hold values the codebooks do not have
    tampered = bytearray(bs.encode_stream(card, np.zeros((8, 16), np.int64)))
    tampered[card.header_size] = 0xFF
    with pytest.raises(BitstreamError, match='a code is 1020'):
        bs.decode_stream(resign(bytes(tampered)))

    padded = make_header(length=10_640)  # 17 frames of 10 bits: 6 padding bits end every codebook row
    tampered = bytearray(bs.encode_stream(padded, random_codes(padded)))
    tampered[padded.header_size + padded.row_bytes - 1] |= 1
    with pytest.raises(BitstreamError, match='padding bits'):
        bs.decode_stream(resign(bytes(tampered)))


def test_huge_announced_sizes_fail_fast_without_allocating():
    # A consistent, correctly signed header announcing 2**32 - 1 frames of 8 codebooks, with no payload.
    frames = 2 ** 32 - 1
    header = make_header(length=frames * 640, num_frames=frames)
    data = bs._encode_header(header, 0)
    tracemalloc.start()
    try:
        with pytest.raises(BitstreamError, match='more than the limit'):
            bs.decode_stream(data)
        with pytest.raises(BitstreamError, match=f'Truncated stream: .* expected {bs.encoded_size(header)}'):
            bs.decode_stream(data + bytes(1000), max_codes=2 ** 40)  # the payload is read in bounded chunks
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2 ** 20, peak  # the announced payload is 40 GB


# -------------------------------------------------------------------------------------------------- fuzzing

FIELDS = [  # (offset, size) of every field of the fixed header
    (0, 4), (4, 2), (6, 2), (8, 16), (24, 4), (28, 2), (30, 2), (32, 8), (40, 4), (44, 4), (48, 4), (52, 4),
    (56, 4), (60, 2), (62, 2)]


class Hang(Exception):
    pass


ERROR_KINDS = ('Not a bandsplit stream', 'format version', 'Truncated', 'Corrupted')


def error_kind(err: BitstreamError) -> str:
    """What a reading error is about, from its message; anything else is an invalid header."""
    return next((kind for kind in ERROR_KINDS if kind in str(err)), 'invalid header')


def fuzz_sources() -> list[bytes]:
    two = make_header(length=10_000, metadata={'codec': 'bandsplit', 'note': 'é'})
    low, low_codes = bs.truncate_to_branches(two, random_codes(two, 1), 1)
    single = make_header(length=1, cardinality=1000, branch_rates=(32000,), codebooks_per_branch=(1,))
    three = make_header(length=4321, sample_rate=48000, frame_rate=75, cardinality=5,
                        branch_rates=(16000, 32000, 48000), codebooks_per_branch=(2, 1, 3),
                        present_per_branch=(2, 1, 1))
    return [bs.encode_stream(two, random_codes(two, 1)), bs.encode_stream(low, low_codes),
            bs.encode_stream(single, random_codes(single, 2)), bs.encode_stream(three, random_codes(three, 3))]


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> tuple[bytes, bool]:
    """A corrupted copy of `data` and whether its checksums were recomputed."""
    buf = bytearray(data)
    header_size = 68 + 8 * struct.unpack_from('<H', data, 30)[0] + struct.unpack_from('<H', data, 60)[0]
    if kind == 'flip':
        for bit in rng.choice(8 * len(buf), size=int(rng.integers(1, 5)), replace=False):
            buf[bit // 8] ^= 1 << (bit % 8)
    elif kind == 'overwrite':
        for pos in rng.integers(0, len(buf), size=int(rng.integers(1, 9))):
            buf[pos] = int(rng.integers(0, 256))
    elif kind == 'truncate':
        del buf[int(rng.integers(0, len(buf))):]
    elif kind == 'append':
        buf += rng.integers(0, 256, size=int(rng.integers(1, 100)), dtype=np.uint8).tobytes()
    elif kind in ('field', 'field_resigned'):
        offset, size = FIELDS[int(rng.integers(len(FIELDS)))]
        if offset != 56 or kind == 'field':  # the payload checksum is overwritten by `resign`
            value = int.from_bytes(buf[offset:offset + size], 'little')
            value = [0, (1 << 8 * size) - 1, value + 1, value - 1, int(rng.integers(0, 1 << min(8 * size, 62)))][
                int(rng.integers(5))] % (1 << 8 * size)
            buf[offset:offset + size] = value.to_bytes(size, 'little')
    elif kind == 'table_resigned':  # branch table or metadata
        pos = int(rng.integers(64, header_size - 4))
        buf[pos] = int(rng.integers(0, 256))
    elif kind == 'payload_resigned':
        if len(buf) > header_size:
            buf[int(rng.integers(header_size, len(buf)))] = int(rng.choice([0xFF, int(rng.integers(0, 256))]))
    resigned = kind.endswith('_resigned')
    if resigned and header_size <= len(buf):
        try:
            return resign(bytes(buf)), True
        except struct.error:
            pass
    return bytes(buf), resigned


def test_fuzz_corruptions_raise_bitstream_errors_only():
    def on_alarm(signum, frame):
        raise Hang()

    rng = np.random.default_rng(1234)
    kinds = ['flip', 'overwrite', 'truncate', 'append', 'field', 'field_resigned', 'table_resigned',
             'payload_resigned']
    cases: list[tuple[int, str, bytes, bool]] = []
    sources = fuzz_sources()
    for index, data in enumerate(sources):
        cases.append((index, 'truncate', b'', False))
        cases += [(index, 'truncate', data[:n], False) for n in rng.integers(0, len(data), size=10)]
        for kind in kinds:
            cases += [(index, kind, *mutate(data, kind, rng)) for _ in range(16)]
    assert len(cases) >= 300

    seen: dict[str, int] = {}
    originals = [bs.decode_stream(d) for d in sources]
    previous = signal.signal(signal.SIGALRM, on_alarm)
    start = time.perf_counter()
    try:
        for index, kind, mutated, resigned in cases:
            signal.setitimer(signal.ITIMER_REAL, 2.0)
            try:
                header, codes = bs.decode_stream(mutated)
            except BitstreamError as err:
                seen[error_kind(err)] = seen.get(error_kind(err), 0) + 1
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            seen['read'] = seen.get('read', 0) + 1
            if resigned:  # a correctly signed, consistent stream: the read must be faithful
                assert bs.encode_stream(header, codes) == mutated, kind
            else:  # unsigned corruptions are only read when they changed nothing
                assert mutated == sources[index], kind
                assert header == originals[index][0] and np.array_equal(codes, originals[index][1])
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(f"{len(cases)} corruptions in {time.perf_counter() - start:.2f} s: {dict(sorted(seen.items()))}")
    for kind in (*ERROR_KINDS, 'invalid header'):
        assert seen.get(kind, 0) > 0, (kind, seen)
