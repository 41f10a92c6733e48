"""Chunked coding of long audio: chunk plans, exactness against the whole-signal pass, streamed file reading
and peak memory that does not grow with the duration."""
import json
import math
from pathlib import Path

import pytest
import soundfile
import torch

from bandsplit_audiocraft.codec.audio_stream import SoundFileSource, TensorSource, WavWriter, open_source
from bandsplit_audiocraft.codec.streaming import decode_long, encode_long, iter_decode, plan_chunks
from bandsplit_audiocraft.data.audio_io import read_audio
from tests.helpers import background_run, build_tiny, make_signal


def test_plan_chunks_tiles_the_frames():
    chunks = plan_chunks(103, 25, 5)
    assert [(c.start, c.stop) for c in chunks] == [(0, 25), (25, 50), (50, 75), (75, 100), (100, 103)]
    # windows of 25 + 2 * 5 frames, shifted inside [0, 103] at the edges
    assert [(c.window_start, c.window_stop) for c in chunks] == [(0, 35), (20, 55), (45, 80), (68, 103), (68, 103)]
    assert plan_chunks(35, 25, 5) == plan_chunks(35, 100, 0)  # fits in one window: the whole-signal pass
    assert len(plan_chunks(35, 25, 5)) == 1 and len(plan_chunks(36, 25, 5)) == 2
    with pytest.raises(AssertionError):  # callers plan at least one frame
        plan_chunks(0, 25, 5)


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    noise = (reference - estimate).pow(2).sum().clamp_min(1e-30)
    return 10 * math.log10(float(reference.pow(2).sum() / noise))


def rms(x: torch.Tensor) -> float:
    return float(x.pow(2).mean().sqrt())


@pytest.fixture(scope='module')
def lstm_model(tiny_model):
    """A tiny model with the LSTM of the real configuration, the part of the model with the longest memory.

    Its codebooks are the (initialised) ones of `tiny_model`, to skip a k-means initialisation.
    """
    model = build_tiny('two_band', 'seanet.lstm=2')
    for branch, initialised in zip(model.branches, tiny_model.branches):
        branch.quantizer.load_state_dict(initialised.quantizer.state_dict())
    return model


@torch.no_grad()
def test_chunk_boundaries_are_inaudible(lstm_model):
    """20 s in 5 s chunks with 1 s of context against the whole-signal pass (tiny untrained model with a
    2-layer LSTM): decoding the same codes in chunks differs from the whole decode by float rounding only, as
    much around the boundaries as elsewhere, unlike decoding without context; the chunked encode keeps almost
    every code and the chunked pipeline stays close to the whole one (the figures are printed).
    """
    model, sr, hop = lstm_model, 32000, lstm_model.hop_length
    wav = make_signal(20.0, sr)                                 # [1, T]
    length = wav.shape[-1]
    codes = model.encode(wav[None])[0]                          # [1, K, F]: the batch of one is the channel
    whole = model.decode(codes)[..., :length]                   # [1, 1, T]
    near = torch.zeros(length, dtype=torch.bool)                # 5 frames on each side of every boundary
    for boundary in (5, 10, 15):
        near[boundary * sr - 5 * hop:boundary * sr + 5 * hop] = True

    chunked = decode_long(model, codes, length, chunk_seconds=5, context_seconds=1, batch_size=2)  # [1, T]
    error = (chunked - whole[0])[0]
    assert rms(error[near]) <= 2 * rms(error[~near]) + 1e-7
    assert float(error.abs().max()) < 1e-5

    # Control: without context, the same measure sees the seams.
    seams = (decode_long(model, codes, length, chunk_seconds=5, context_seconds=0) - whole[0])[0]
    assert rms(seams[near]) > 100 * rms(error[near]) + 1e-4

    chunked_codes = encode_long(model, wav, chunk_seconds=5, context_seconds=1, batch_size=2)
    assert chunked_codes.shape == codes.shape
    assert float((chunked_codes == codes).float().mean()) > 0.999
    pipeline = decode_long(model, chunked_codes, length, chunk_seconds=5, context_seconds=1, batch_size=2)
    agreement, snr = float((chunked_codes == codes).float().mean()), snr_db(whole[0], pipeline)
    print(f"chunked decode vs whole: RMS error {rms(error[near]):.2e} near boundaries, {rms(error[~near]):.2e} "
          f"elsewhere ({rms(seams[near]):.2e} near boundaries without context); codes agree {agreement:.5f}; "
          f"chunked pipeline vs whole {snr:.1f} dB")
    assert snr > 60


@torch.no_grad()
def test_batching_and_rates_give_the_same_result(tiny_model):
    wav = make_signal(3.0, channels=2)                                              # [2, T]
    options = dict(chunk_seconds=0.5, context_seconds=0.2)
    one = encode_long(tiny_model, wav, batch_size=1, **options)
    assert one.shape == (2, 8, 150)
    assert torch.equal(one, encode_long(tiny_model, TensorSource(wav, 32000), batch_size=5, **options))
    for c in range(2):  # channels are coded separately
        assert torch.equal(one[c:c + 1], encode_long(tiny_model, wav[c:c + 1], batch_size=3, **options))
    low = decode_long(tiny_model, one[:, :4], wav.shape[-1], rate=16000, batch_size=2, **options)
    reference = tiny_model.decode_bands(one[:, :4])[0][:, 0, :low.shape[-1]]
    assert low.shape == (2, 48000)
    assert torch.allclose(low, reference, atol=1e-5)
    blocks = list(iter_decode(tiny_model, one, wav.shape[-1] - 7, **options))
    assert sum(b.shape[-1] for b in blocks) == wav.shape[-1] - 7 and len(blocks) == 6


def test_num_codebooks_is_restored(tiny_model):
    codes = encode_long(tiny_model, make_signal(0.5), num_codebooks=3)
    assert codes.shape[1] == 3 and tiny_model.num_codebooks == 8


@pytest.mark.parametrize('fmt,subtype,rate', [('WAV', 'PCM_16', 44100), ('FLAC', 'PCM_24', 48000),
                                              ('OGG', 'VORBIS', 48000), ('WAV', 'FLOAT', 32000)])
def test_streamed_file_equals_whole_read(tmp_path, fmt, subtype, rate):
    path = tmp_path / f'x.{fmt.lower()}'
    soundfile.write(path, make_signal(3.0, rate, channels=2).T.numpy(), rate, format=fmt, subtype=subtype)
    whole, _ = read_audio(path, sample_rate=32000)
    with SoundFileSource(path, 32000) as source:
        assert (source.channels, source.length) == tuple(whole.shape)
        windows = [(0, 700), (500, 40000), (39000, 70001), (3, source.length), (source.length - 9, source.length)]
        for start, stop in windows:  # the last windows go back to the start: the file is decoded again
            assert torch.allclose(source.read(start, stop), whole[:, start:stop], atol=1e-6), (start, stop)
    with SoundFileSource(path, 32000, channels=1) as mono:
        assert torch.allclose(mono.read(10, 2000), whole[:, 10:2000].mean(0, keepdim=True), atol=1e-6)


def test_unstreamable_formats_are_read_whole(tmp_path):
    path = tmp_path / 'x.mp3'
    soundfile.write(path, make_signal(1.0, 44100).T.numpy(), 44100, format='MP3')
    source = open_source(path, 32000)
    assert isinstance(source, TensorSource) and source.length == read_audio(path, 32000)[0].shape[-1]
    path.write_bytes(b'not audio')
    with pytest.raises(ValueError, match="Could not read"):
        open_source(path, 32000)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_source(tmp_path / 'missing.wav', 32000)


def test_wav_writer_is_atomic(tmp_path):
    path = tmp_path / 'out.wav'
    with pytest.raises(RuntimeError, match="boom"):
        with WavWriter(path, 16000, 1) as writer:
            writer.write(torch.zeros(1, 100))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with WavWriter(path, 16000, 2) as writer:
        writer.write(torch.full((2, 10), 2.0))
        writer.write(torch.zeros(2, 5))
    assert writer.clipped == 20 and soundfile.info(path).frames == 15
    with pytest.raises(FileExistsError, match="--overwrite"):
        WavWriter(path, 16000, 2)
    assert [p.name for p in tmp_path.iterdir()] == ['out.wav']


MEMORY_PROBE = r'''
import json, sys, time
from pathlib import Path
import torch
from bandsplit_audiocraft.codec.model_io import Codec
from bandsplit_audiocraft.codec.operations import ChunkOptions, compress_file, decompress_file
from bandsplit_audiocraft.data.audio_io import write_wav
from tests.helpers import background_run, build_tiny, make_signal

def status(key):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ':'))  # kB

def reset_peak():
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # VmHWM := current RSS

folder = Path(sys.argv[1])
durations = {'short': 30.0, 'long': 120.0}
for name, seconds in durations.items():
    write_wav(folder / f'{name}.wav', make_signal(seconds, seed=len(name)), 32000)
torch.set_num_threads(1)
model = build_tiny()
with torch.no_grad():
    model(torch.randn(2, 1, 32000) * 0.1)
codec = Codec(model, bytes(16), folder / 'none.th')
options = ChunkOptions(chunk_seconds=2.0, context_seconds=0.5, batch_size=2)
base = status('VmRSS')
results = {'base_kb': base}
for name in durations:
    reset_peak()
    start = time.time()
    compress_file(codec, folder / f'{name}.wav', folder / f'{name}.bsac', num_codebooks=8, options=options)
    decompress_file(codec, folder / f'{name}.bsac', folder / f'{name}.out.wav', options=options)
    results[name] = {'peak_kb': status('VmHWM'), 'seconds': time.time() - start}
print(json.dumps(results))
'''


@background_run('memory_probe', 'test_peak_memory_does_not_grow_with_duration')
def memory_probe_args(folder: Path) -> list[str]:
    return ['-c', MEMORY_PROBE, str(folder)]


def test_peak_memory_does_not_grow_with_duration(background):
    """Peak RSS of compress + decompress (chunked, streamed from and to disk), 30 s against 120 s.

    Measured in a fresh interpreter started in the background (see `conftest`): the peak is reset before each
    run (`/proc/self/clear_refs`) and compared with the RSS before the first run, so the long run (which
    follows the short one) shows any memory the short one did not need (`bench/memory_long_audio.py` compares
    with a whole-signal pass).
    """
    if not Path('/proc/self/clear_refs').exists():
        pytest.skip("needs Linux /proc/self/clear_refs to reset the peak RSS")
    proc = background.result('memory_probe')
    stdout = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(stdout.strip().splitlines()[-1])
    grown = {name: (results[name]['peak_kb'] - results['base_kb']) / 1024 for name in ('short', 'long')}
    print(f"peak RSS above baseline: 30 s {grown['short']:.1f} MB, 120 s {grown['long']:.1f} MB")
    assert grown['long'] <= 1.5 * grown['short'] + 8
