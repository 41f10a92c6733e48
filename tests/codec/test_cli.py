"""The codec's command line, run in-process with `cli.main` on a tiny exported checkpoint (plus subprocesses for
`--help` and for what `--help` and `info` import): round trips against the model's own API, sizes and bitrates,
the low band alone, input formats, errors, folders, overwriting and tokenization."""
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from bandsplit_audiocraft.codec import bitstream as bs
from bandsplit_audiocraft.codec import cli, container, model_io
from bandsplit_audiocraft.codec.streaming import decode_long, encode_long
from bandsplit_audiocraft.data.audio_io import read_audio, write_wav
from tests.helpers import background_run, make_signal

CPU = ('--device', 'cpu', '-q')


_LOADED: dict[tuple, model_io.Codec] = {}
_LOAD = model_io.load_codec


def _load_once(checkpoint, device='cpu', **kwargs) -> model_io.Codec:
    path = Path(checkpoint)
    if not path.is_file():
        return _LOAD(checkpoint, device, **kwargs)
    key = (str(path.resolve()), device, path.stat().st_mtime_ns, kwargs.get('reference', False),
           kwargs.get('precision'))
    if key not in _LOADED:
        _LOADED[key] = _LOAD(checkpoint, device, **kwargs)
    return _LOADED[key]


@pytest.fixture(autouse=True)
def load_checkpoints_once(monkeypatch):
    """The command line loads its checkpoint on every call; load each one once in these tests."""
    monkeypatch.setattr(model_io, 'load_codec', _load_once)


def run(*args) -> int:
    return cli.main([str(a) for a in args])


def compress(src, dst, checkpoint, *extra) -> int:
    return run('compress', src, dst, '--checkpoint', checkpoint, *CPU, *extra)


def decompress(src, dst, checkpoint, *extra) -> int:
    return run('decompress', src, dst, '--checkpoint', checkpoint, *CPU, *extra)


def assert_pcm16_equal(path: Path, expected: torch.Tensor, rate: int) -> None:
    """The WAV file holds `expected` `[C, T]` quantized to 16 bits: within one step, 1 / 32768."""
    data, sr = soundfile.read(path, dtype='float32', always_2d=True)   # int / 32768
    assert sr == rate and data.shape == tuple(expected.T.shape)
    assert np.abs(data - expected.clamp(-1, 1).T.numpy()).max() <= 1 / 32768 + 1e-6


@pytest.fixture(scope='module')
def short_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('audio') / 'short.wav'
    return write_wav(path, make_signal(2.0), 32000)


@pytest.fixture(scope='module')
def short_bsac(short_wav, tiny_checkpoint, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('streams') / 'short.bsac'
    assert compress(short_wav, path, tiny_checkpoint) == 0
    return path


def test_bfloat16_precision_is_an_approximate_opt_in(short_wav, short_bsac, tiny_checkpoint, tmp_path, capsys):
    approx = tmp_path / 'approx.bsac'
    assert compress(short_wav, approx, tiny_checkpoint, '--precision', 'bfloat16') == 0
    assert model_io.load_codec(tiny_checkpoint, 'cpu', precision='bfloat16').model.precision == 'bfloat16'
    _, reference = container.read_file(short_bsac)
    _, codes = container.read_file(approx)
    assert codes.shape == reference.shape and (codes == reference).mean() > 0.8
    for precision in ('float32', 'bfloat16'):
        assert decompress(approx, tmp_path / f'{precision}.wav', tiny_checkpoint, '--precision', precision) == 0
    exact, _ = read_audio(tmp_path / 'float32.wav')
    close, _ = read_audio(tmp_path / 'bfloat16.wav')
    assert close.shape == exact.shape and not torch.equal(close, exact)
    assert (close - exact).norm() / exact.norm() < 0.05
    assert compress(short_wav, tmp_path / 'bad.bsac', tiny_checkpoint, '--precision', 'float16') == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err


@torch.no_grad()
def test_short_round_trip_equals_the_model(short_wav, short_bsac, tiny_checkpoint, codec, tmp_path):
    model = codec.model
    wav, _ = read_audio(short_wav)                                   # [1, T], PCM16 as float
    header, codes = container.read_file(short_bsac)                  # codes [C, K, F]
    assert header.model_id == codec.model_id and header.length == wav.shape[-1] and header.channels == 1
    assert torch.equal(torch.from_numpy(codes), model.encode(wav[None])[0])
    out = tmp_path / 'out.wav'
    assert decompress(short_bsac, out, tiny_checkpoint) == 0
    expected = model.decode(torch.from_numpy(codes))[0, :, :wav.shape[-1]]  # [1, T]
    assert_pcm16_equal(out, expected, 32000)
    assert torch.allclose(decode_long(model, torch.from_numpy(codes), wav.shape[-1]), expected, atol=1e-6)


@torch.no_grad()
def test_long_round_trip_equals_the_chunked_api(tiny_checkpoint, codec, tmp_path):
    src, bsac, out = tmp_path / 'long.wav', tmp_path / 'long.bsac', tmp_path / 'long.out.wav'
    write_wav(src, make_signal(5.3), 32000)
    options = dict(chunk_seconds=1.5, context_seconds=0.3, batch_size=3)
    flags = ('--chunk-seconds', '1.5', '--context-seconds', '0.3', '--batch-size', '3')
    assert compress(src, bsac, tiny_checkpoint, *flags) == 0
    assert decompress(bsac, out, tiny_checkpoint, *flags) == 0
    wav, _ = read_audio(src)
    header, codes = container.read_file(bsac)
    expected_codes = encode_long(codec.model, wav, **options)
    assert torch.equal(torch.from_numpy(codes), expected_codes) and codes.shape == (1, 8, 265)
    assert_pcm16_equal(out, decode_long(codec.model, expected_codes, wav.shape[-1], **options), 32000)


@pytest.mark.parametrize('flags,codebooks', [((), 8), (('--codebooks', '6'), 6), (('--bitrate', '2'), 4),
                                             (('--bitrate', '2.7'), 5)])
def test_size_and_bitrate(short_wav, tiny_checkpoint, tmp_path, flags, codebooks):
    out = tmp_path / 'x.bsac'
    assert compress(short_wav, out, tiny_checkpoint, *flags) == 0
    header, codes = container.read_file(out)
    assert codes.shape == (1, codebooks, 100) and header.present_codebooks == codebooks
    assert out.stat().st_size == bs.encoded_size(header) == header.header_size + codebooks * 125
    payload_bits = 8 * (out.stat().st_size - header.header_size)
    assert payload_bits / header.duration == codebooks * 10 * 50 == header.nominal_bitrate


def test_stereo_file_is_one_stream_per_channel(tiny_checkpoint, tmp_path):
    src, out = tmp_path / 'stereo.wav', tmp_path / 'stereo.bsac'
    write_wav(src, make_signal(1.0, channels=2), 32000)
    assert compress(src, out, tiny_checkpoint) == 0
    header, codes = container.read_file(out)
    assert header.channels == 2 and codes.shape == (2, 8, 50)
    assert out.stat().st_size == container.file_size(header) == 2 * bs.encoded_size(header)
    with open(out, 'rb') as f:
        first = bs.read_stream(f, expect_eof=False)[1]
    rest = out.read_bytes()[bs.encoded_size(header):]
    assert np.array_equal(first, codes[0]) and np.array_equal(bs.decode_stream(rest)[1], codes[1])


@torch.no_grad()
def test_low_band_only(short_wav, short_bsac, tiny_checkpoint, codec, tmp_path):
    model, k_low = codec.model, codec.low_band_codebooks
    length = read_audio(short_wav)[0].shape[-1]
    _, codes = container.read_file(short_bsac)
    low_codes = torch.from_numpy(codes[:, :k_low])
    bands = model.decode_bands(low_codes)                          # [16 kHz recon, its 32 kHz upsampling]

    full_low = tmp_path / 'from_full.wav'
    assert decompress(short_bsac, full_low, tiny_checkpoint, '--low-band-only') == 0
    assert_pcm16_equal(full_low, bands[0][0, :, :length // 2], 16000)
    up = tmp_path / 'from_full_32k.wav'
    assert decompress(short_bsac, up, tiny_checkpoint, '--low-band-only', '--rate', '32000') == 0
    assert_pcm16_equal(up, bands[-1][0, :, :length], 32000)
    assert torch.allclose(bands[-1], model.decode(low_codes))

    low_bsac, low_wav = tmp_path / 'low.bsac', tmp_path / 'low.wav'
    assert compress(short_wav, low_bsac, tiny_checkpoint, '--low-band-only') == 0
    header, stored = container.read_file(low_bsac)
    assert header.present_per_branch == (k_low, 0) and np.array_equal(stored, codes[:, :k_low])
    assert low_bsac.stat().st_size < short_bsac.stat().st_size
    assert low_bsac.stat().st_size - header.header_size == (short_bsac.stat().st_size - header.header_size) // 2
    assert decompress(low_bsac, low_wav, tiny_checkpoint) == 0  # a low-band file decodes to the upsampled low band
    assert_pcm16_equal(low_wav, bands[-1][0, :, :length], 32000)


@pytest.mark.parametrize('name,rate,channels,fmt,subtype', [
    ('stereo.wav', 44100, 2, 'WAV', 'PCM_16'), ('mono.flac', 48000, 1, 'FLAC', 'PCM_16'),
    ('stereo.ogg', 48000, 2, 'OGG', 'VORBIS'), ('mono.mp3', 44100, 1, 'MP3', 'MPEG_LAYER_III'),
    ('narrow.wav', 16000, 1, 'WAV', 'FLOAT')])
@torch.no_grad()
def test_input_formats_rates_and_channels(tiny_checkpoint, codec, tmp_path, name, rate, channels, fmt, subtype):
    src, out = tmp_path / name, tmp_path / 'x.bsac'
    soundfile.write(src, make_signal(1.3, rate, channels).T.numpy(), rate, format=fmt, subtype=subtype)
    assert compress(src, out, tiny_checkpoint) == 0
    wav, _ = read_audio(src, sample_rate=32000)                      # [C, T] at the model's rate
    header, codes = container.read_file(out)
    assert (header.channels, header.length) == tuple(wav.shape)
    assert torch.equal(torch.from_numpy(codes), codec.model.encode(wav[:, None])[0])  # channels coded separately
    if channels == 2:
        decoded = tmp_path / 'x.wav'
        assert decompress(out, decoded, tiny_checkpoint) == 0
        assert soundfile.info(decoded).channels == 2 and soundfile.info(decoded).frames == wav.shape[-1]


def _no_traceback(capsys) -> str:
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return err


def test_errors_are_plain_sentences(short_bsac, short_wav, tiny_checkpoint, other_checkpoint, tmp_path, capsys):
    data = short_bsac.read_bytes()
    cases = {
        'truncated.bsac': (data[:-7], "Truncated"),
        'corrupted.bsac': (data[:-30] + bytes([data[-30] ^ 0x10]) + data[-29:], "checksum"),
        'version.bsac': (data[:4] + (7).to_bytes(2, 'little') + data[6:], "format version 7"),
        'garbage.bsac': (b'RIFF' + bytes(200), "Not a bandsplit stream"),
        'empty.bsac': (b'', "empty"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        assert decompress(tmp_path / name, tmp_path / f'{name}.wav', tiny_checkpoint) == 1, name
        err = _no_traceback(capsys)
        assert f"error: {tmp_path / name}:" in err and message in err, (name, err)
        assert not (tmp_path / f'{name}.wav').exists()

    assert decompress(short_bsac, tmp_path / 'wrong.wav', other_checkpoint) == 1
    assert "Model mismatch" in _no_traceback(capsys)
    assert run('info', short_bsac, '--checkpoint', other_checkpoint) == 1
    assert "Model mismatch" in _no_traceback(capsys)

    assert decompress(tmp_path / 'missing.bsac', tmp_path / 'm.wav', tiny_checkpoint) == 1
    assert "does not exist" in _no_traceback(capsys)
    assert compress(short_wav, tmp_path / 'x.bsac', tmp_path / 'missing.th') == 1
    assert "Checkpoint" in _no_traceback(capsys) and not (tmp_path / 'x.bsac').exists()
    assert compress(short_wav, tmp_path / 'x.bsac', short_wav) == 1
    assert "Cannot load checkpoint" in _no_traceback(capsys)

    assert run('compress', short_wav, tmp_path / 'x.bsac', *CPU) == 2                       # no --checkpoint
    assert "--checkpoint" in _no_traceback(capsys)
    assert compress(short_wav, tmp_path / 'x.bsac', tiny_checkpoint, '--codebooks', '9') == 2
    assert "more than the 8 codebooks" in _no_traceback(capsys)
    assert compress(short_wav, tmp_path / 'x.bsac', tiny_checkpoint, '--low-band-only', '--bitrate', '3') == 2
    assert "the low branch has 4" in _no_traceback(capsys)
    assert decompress(short_bsac, tmp_path / 'x.wav', tiny_checkpoint, '--rate', '44100') == 2
    assert "branch rates" in _no_traceback(capsys)
    assert run('compress', short_wav, '--checkpoint', tiny_checkpoint, '--chunk-seconds', '0', *CPU) == 2
    _no_traceback(capsys)


def test_truncated_stereo_file(tiny_checkpoint, tmp_path, capsys):
    src, out = tmp_path / 'stereo.wav', tmp_path / 'stereo.bsac'
    write_wav(src, make_signal(0.5, channels=2), 32000)
    assert compress(src, out, tiny_checkpoint) == 0
    header, _ = container.read_file(out)
    out.write_bytes(out.read_bytes()[:bs.encoded_size(header) + 10])
    assert decompress(out, tmp_path / 'x.wav', tiny_checkpoint) == 1
    assert "channel 2 of 2" in _no_traceback(capsys)


def test_folder_run_mirrors_the_tree_and_goes_on_after_a_failure(tiny_checkpoint, tmp_path, capsys):
    src = tmp_path / 'in'
    write_wav(src / 'a.wav', make_signal(0.5), 32000)
    (src / 'sub').mkdir()
    soundfile.write(src / 'sub' / 'b.flac', make_signal(0.7, 44100, 2).T.numpy(), 44100)
    (src / 'sub' / 'broken.wav').write_bytes(b'RIFF\x00\x00\x00\x00WAVEjunk')
    out = tmp_path / 'out'
    assert compress(src, out, tiny_checkpoint) == 1
    err = _no_traceback(capsys)
    assert f"error: {src / 'sub' / 'broken.wav'}: Could not read audio file" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob('*')) == ['a.bsac', 'sub', 'sub/b.bsac']

    (out / 'sub' / 'c.bsac').write_bytes((out / 'a.bsac').read_bytes()[:-1])
    decoded = tmp_path / 'decoded'
    assert decompress(out, decoded, tiny_checkpoint) == 1
    err = _no_traceback(capsys)
    assert f"error: {out / 'sub' / 'c.bsac'}: Truncated" in err
    assert sorted(p.relative_to(decoded).as_posix() for p in decoded.rglob('*.wav')) == ['a.wav', 'sub/b.wav']
    assert soundfile.info(decoded / 'sub' / 'b.wav').channels == 2


def test_outputs_are_never_overwritten_without_the_flag(short_wav, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / 'x.bsac'
    assert compress(short_wav, out, tiny_checkpoint, '--codebooks', '2') == 0
    before = out.read_bytes()
    assert compress(short_wav, out, tiny_checkpoint) == 1
    assert "already exists" in _no_traceback(capsys) and out.read_bytes() == before
    assert compress(short_wav, out, tiny_checkpoint, '--overwrite') == 0
    assert len(out.read_bytes()) > len(before)

    wav = tmp_path / 'x.wav'
    wav.write_bytes(b'keep me')
    assert decompress(out, wav, tiny_checkpoint) == 1
    assert "already exists" in _no_traceback(capsys) and wav.read_bytes() == b'keep me'
    assert decompress(out, wav, tiny_checkpoint, '--overwrite') == 0 and soundfile.info(wav).frames == 64000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []  # no temporary file left


def test_default_output_is_next_to_the_input(short_wav, tiny_checkpoint, tmp_path):
    src = tmp_path / 'song.wav'
    src.write_bytes(short_wav.read_bytes())
    assert run('compress', src, '--checkpoint', tiny_checkpoint, *CPU) == 0
    assert (tmp_path / 'song.bsac').is_file()
    (tmp_path / 'decoded').mkdir()
    assert run('decompress', tmp_path / 'song.bsac', tmp_path / 'decoded', '--checkpoint', tiny_checkpoint,
               *CPU) == 0
    assert (tmp_path / 'decoded' / 'song.wav').is_file()


def test_tokenize_writes_arrays_and_manifest(tiny_checkpoint, tmp_path):
    src, out = tmp_path / 'in', tmp_path / 'tokens'
    write_wav(src / 'a.wav', make_signal(1.0), 32000)
    write_wav(src / 'sub' / 'b.wav', make_signal(1.5, 48000, 2), 48000)
    assert run('tokenize', src, out, '--checkpoint', tiny_checkpoint, *CPU) == 0
    entries = [json.loads(line) for line in (out / 'manifest.jsonl').read_text().splitlines()]
    assert [Path(e['codes']).relative_to(out).as_posix() for e in entries] == ['a.npy', 'sub/b.npy']
    for entry, shape in zip(entries, [(1, 8, 50), (2, 8, 75)]):
        codes = np.load(entry['codes'])
        assert codes.dtype == np.int16 and codes.shape == shape
        assert (entry['channels'], entry['codebooks'], entry['frames']) == shape
        assert entry['duration'] == pytest.approx(shape[2] / 50) and Path(entry['path']).is_file()
    bsac = tmp_path / 'b.bsac'
    assert compress(src / 'sub' / 'b.wav', bsac, tiny_checkpoint) == 0
    assert np.array_equal(container.read_file(bsac)[1], np.load(entries[1]['codes']))

    mono = tmp_path / 'mono'
    assert run('tokenize', src / 'sub' / 'b.wav', mono, '--checkpoint', tiny_checkpoint, '--mono',
               '--codebooks', '3', *CPU) == 0
    assert np.load(mono / 'b.npy').shape == (1, 3, 75)
    assert run('tokenize', src, out, '--checkpoint', tiny_checkpoint, *CPU) == 2  # the manifest exists


def test_info(short_bsac, tiny_checkpoint, codec, capsys):
    assert run('info', short_bsac) == 0
    text = capsys.readouterr().out
    assert codec.model_id.hex() in text and "4.00 kbps nominal" in text and "4+4 present of 4+4" in text
    assert run('info', short_bsac, short_bsac.parent, '--json', '--checkpoint', tiny_checkpoint) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first['present_per_branch'] == [4, 4] and first['channels'] == 1 and first['frames'] == 100
    assert first['size'] == short_bsac.stat().st_size and first['nominal_bitrate'] == 4000
    assert first['model_check'].startswith("matches") and second['model_id'] == first['model_id']


def test_help_and_info_import_neither_torch_nor_audiocraft(short_bsac, codec, tmp_path):
    """What lets them start at once (BENCHMARKS.md times them from a cold process)."""
    code = ("import sys\nfrom bandsplit_audiocraft.codec.cli import main\n"
            f"assert main(['--help']) == 0 and main(['info', {str(short_bsac)!r}]) == 0\n"
            "print(sorted({m.partition('.')[0] for m in sys.modules} & {'torch', 'audiocraft', 'julius'}))")
    proc = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert 'usage:' in proc.stdout and codec.model_id.hex() in proc.stdout
    assert proc.stdout.splitlines()[-1] == '[]'


CONSOLE_SCRIPT = Path(sys.executable).parent / 'bandsplit-codec'


@background_run('help', 'test_help_reads_well')
def help_args(folder: Path) -> list[str]:
    return [str(CONSOLE_SCRIPT), '--help']  # the installed console script (a Python script)


def test_help_reads_well(background, capsys):
    assert CONSOLE_SCRIPT.is_file(), "the package installs the `bandsplit-codec` console script"
    proc = background.result('help')
    stdout = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert stdout.startswith('usage: bandsplit-codec ')
    for word in ('compress', 'decompress', 'tokenize', 'info', 'examples:', '--low-band-only', 'kbps'):
        assert word in stdout
    assert run('compress', '--help') == 0
    text = capsys.readouterr().out
    for option in ('--checkpoint', '--codebooks', '--bitrate', '--low-band-only', '--chunk-seconds', '--overwrite'):
        assert option in text
