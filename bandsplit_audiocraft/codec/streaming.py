"""Long audio in bounded memory: chunked encoding and decoding with context on both sides of every chunk.

The band-split model is non-causal (its convolutions look a few frames ahead and behind, its optional LSTM
carries state from the left) and it forms the high branch's residual from the low branch's *decoded* output.
Chunking is therefore applied to the whole model, never to one branch: every chunk is coded by the model's
own `encode` (or `decode_bands`) on a window of audio (or codes) that extends the chunk by `context` frames on
each side, and only the chunk's own frames are kept::

    frames      0 ........................................................ F
    chunk i               |<------ chunk_frames ------>|
    window i    |<context>|                            |<context>|

Every window has `chunk_frames + 2 * context` frames, so that all forward passes share one shape: at the
signal's edges a window is shifted inside `[0, F]` and holds more context on its other side.

Encoding: the window's samples `[ws * hop, we * hop)` are encoded and the codes of the chunk's frames kept
(the last window ends at the signal's end, zero-padded to whole frames as the model does to any signal).
Decoding: the window's codes are decoded and the chunk's samples `[s * hop_k, e * hop_k)` cropped from the
output (`hop_k`: the hop at the output rate). Chunks tile the signal, so there is no overlap-add: with a
context longer than the receptive field of the convolutions, the cropped output equals the whole-signal
output up to float rounding and to the LSTM state (which forgets the window's edge within the context when
the context is long enough). The first and last windows share the signal's true edges, so they see exactly
what the whole-signal pass sees there.

A code computed from a window can still differ from the whole-signal code where float rounding tips a
nearest-neighbour search in the quantizer, or where the LSTM state has not fully converged; such a code is
another valid code of nearly the same distance, so the decoded signal barely moves
(`tests/codec/test_streaming.py` checks that chunk boundaries are no more audible than float rounding).

Peak memory depends on `chunk_seconds`, `context_seconds` and `batch_size` (windows per forward), not on the
duration: input windows are read from a `WaveformSource` (a tensor, or a file streamed from disk, see
`audio_stream`) and output blocks are yielded one chunk at a time (`iter_decode`).

Channels: a mono model codes every channel of a multichannel signal separately (each channel is one item of
the batch); codes are `[S, K, F]` with one row of codes `[K, F]` per coded stream, `S = C` for a mono model.

Example (`model` a band-split model in eval mode, `wav` a `[C, T]` tensor at its sample rate)::

    codes = encode_long(model, wav, chunk_seconds=10, context_seconds=1)   # [C, K, F]
    out = decode_long(model, codes, length=wav.shape[-1])                  # [C, T]
"""

from __future__ import annotations

from contextlib import contextmanager
import dataclasses
import math
import typing as tp

import torch

from .audio_stream import TensorSource, WaveformSource
from .defaults import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS

if tp.TYPE_CHECKING:
    from ..coding import BandSplitCoding

ProgressCallback = tp.Callable[[int], None]


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Frames `[start, stop)` of a chunk, coded from the window of frames `[window_start, window_stop)`."""

    start: int
    stop: int
    window_start: int
    window_stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.start

    @property
    def window_frames(self) -> int:
        return self.window_stop - self.window_start

    @property
    def offset(self) -> int:
        """Frames of left context: where the chunk starts in its window."""
        return self.start - self.window_start


def seconds_to_frames(seconds: float, frame_rate: float, minimum: int = 0, name: str = 'duration') -> int:
    """Whole frames in `seconds` at `frame_rate` (rounded up), at least `minimum`."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds < 0:
        raise ValueError(f"The {name} must be a non-negative number of seconds, got {seconds!r}.")
    return max(minimum, math.ceil(round(seconds * frame_rate, 6)))


def plan_chunks(num_frames: int, chunk_frames: int, context_frames: int) -> list[Chunk]:
    """Split `num_frames` frames into chunks of `chunk_frames` with `context_frames` of context on each side.

    Every window has the same `chunk_frames + 2 * context_frames` frames, so that all forward passes share one
    shape (they batch together, and memory is reused from one batch to the next): at the signal's edges, the
    window extends further on the other side. A signal that fits in one window is a single chunk (the
    whole-signal pass).
    """
    assert num_frames >= 1 and chunk_frames >= 1 and context_frames >= 0, (num_frames, chunk_frames, context_frames)
    window = chunk_frames + 2 * context_frames
    if num_frames <= window:
        return [Chunk(0, num_frames, 0, num_frames)]
    chunks = []
    for start in range(0, num_frames, chunk_frames):
        stop = min(start + chunk_frames, num_frames)
        window_start = max(0, min(start - context_frames, num_frames - window))
        chunks.append(Chunk(start, stop, window_start, window_start + window))
    return chunks


def _batches(chunks: tp.Sequence[Chunk], batch_size: int) -> tp.Iterator[list[Chunk]]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"The batch size must be a positive integer, got {batch_size!r}.")
    for i in range(0, len(chunks), batch_size):
        yield list(chunks[i:i + batch_size])


def _groups_by_size(chunks: tp.Sequence[Chunk], size: tp.Callable[[Chunk], int]) -> list[list[int]]:
    """Indices of `chunks` grouped by `size` (windows of one size share a forward pass), in order."""
    groups: dict[int, list[int]] = {}
    for i, chunk in enumerate(chunks):
        groups.setdefault(size(chunk), []).append(i)
    return list(groups.values())


def _streams(model: BandSplitCoding, channels: int) -> int:
    """Number of coded streams for a signal of `channels` channels: one per channel for a mono model."""
    if model.channels == 1:
        return channels
    if channels != model.channels:
        raise ValueError(f"The model codes {model.channels} channels jointly; the signal has {channels}.")
    return 1


@contextmanager
def active_codebooks(model: BandSplitCoding, num_codebooks: tp.Optional[int]) -> tp.Iterator[None]:
    """Use `num_codebooks` codebooks (lowest branch first) inside the block; restore the previous count after."""
    previous = model.num_codebooks
    if num_codebooks is not None:
        model.set_num_codebooks(int(num_codebooks))
    try:
        yield
    finally:
        model.set_num_codebooks(previous)


def _read_window(source: WaveformSource, chunk: Chunk, hop: int) -> torch.Tensor:
    """The samples of a chunk's window, `[C, window frames * hop]`.

    A window that reaches the end of the signal is zero-padded to whole frames, which is what the model does
    to the end of any signal: the model sees the same input as in the whole-signal pass.
    """
    start, stop = chunk.window_start * hop, chunk.window_stop * hop
    wav = source.read(start, min(stop, source.length))
    if wav.shape[-1] < stop - start:
        wav = torch.nn.functional.pad(wav, (0, stop - start - wav.shape[-1]))
    return wav


def encode_long(model: BandSplitCoding, wav: tp.Union[torch.Tensor, WaveformSource], *,
                num_codebooks: tp.Optional[int] = None, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                context_seconds: float = DEFAULT_CONTEXT_SECONDS, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: tp.Optional[ProgressCallback] = None) -> torch.Tensor:
    """Encode a signal of any length chunk by chunk; peak memory depends on the chunk size only.

    Args:
        model: A band-split model (in eval mode).
        wav: The signal at the model's sample rate, a tensor `[C, T]` or a `WaveformSource` (read window by
            window, e.g. a file streamed from disk).
        num_codebooks: Codebooks to emit, lowest branch first (default: the model's active codebooks).
        chunk_seconds: Duration of the frames each window contributes.
        context_seconds: Extra audio on each side of a chunk, discarded after coding.
        batch_size: Windows (each with all its channels) per forward pass.
        progress: Called with the number of frames done after every batch.
    Returns:
        Codes `[S, K, F]` (int64, on the CPU), `S` coded streams (the channels for a mono model),
        `F = ceil(T / hop)`: the layout of `model.encode` with the streams as the batch.
    """
    source = wav if not isinstance(wav, torch.Tensor) else TensorSource(wav, model.sample_rate)
    if source.sample_rate != model.sample_rate:
        raise ValueError(f"The signal is at {source.sample_rate} Hz, the model expects {model.sample_rate} Hz.")
    streams = _streams(model, source.channels)
    hop, length = model.hop_length, source.length
    frame_rate = model.frame_rate
    chunks = plan_chunks(model.num_frames(length), seconds_to_frames(chunk_seconds, frame_rate, 1, 'chunk'),
                         seconds_to_frames(context_seconds, frame_rate, 0, 'context'))
    device = model.device
    out: tp.Optional[torch.Tensor] = None  # [S, K, F], filled chunk by chunk (allocated once: no growing list)
    with active_codebooks(model, num_codebooks), torch.inference_mode():
        for batch in _batches(chunks, batch_size):
            windows = [_read_window(source, c, hop) for c in batch]
            for group in _groups_by_size(batch, lambda c: c.window_frames):
                x = torch.stack([windows[i] for i in group]).to(device)  # [G, C, window frames * hop]
                x = x.reshape(len(group) * streams, -1, x.shape[-1])   # [G * S, C / S, n]
                y, _ = model.encode(x)                                   # [G * S, K, window frames]
                y = y.reshape(len(group), streams, y.shape[1], y.shape[-1]).cpu()
                if out is None:
                    out = torch.empty(streams, y.shape[2], chunks[-1].stop, dtype=y.dtype)
                for j, i in enumerate(group):
                    c = batch[i]
                    out[:, :, c.start:c.stop] = y[j, :, :, c.offset:c.offset + c.frames]
            del windows
            if progress is not None:
                progress(sum(c.frames for c in batch))
    assert out is not None
    return out


def output_length(model: BandSplitCoding, length: int, rate: int) -> int:
    """Samples at branch rate `rate` of a signal of `length` samples at the model's rate (rounded up)."""
    return math.ceil(length * rate / model.sample_rate)


def iter_decode(model: BandSplitCoding, codes: torch.Tensor, length: tp.Optional[int] = None, *,
                rate: tp.Optional[int] = None, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                context_seconds: float = DEFAULT_CONTEXT_SECONDS, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: tp.Optional[ProgressCallback] = None) -> tp.Iterator[torch.Tensor]:
    """Decode codes `[S, K, F]` chunk by chunk, yielding consecutive blocks `[C, n]` of the output.

    Args:
        model: The band-split model that produced the codes; any prefix of its codebooks decodes.
        codes: `[S, K, F]` integer codes, one row per coded stream (channel), lowest branch first.
        length: Length of the signal at the model's rate; the output is cropped to it (at `rate`). Default:
            whole frames, `F * hop`.
        rate: Output rate, one of `model.branch_rates` (default: the model's rate). A lower rate gives that
            branch's reconstruction, e.g. the 16 kHz low band of a band-split model.
    Yields:
        Blocks `[C, n]` (float, on the CPU) that concatenate to `[C, length at rate]`.
    """
    if codes.dim() != 3:
        raise ValueError(f"Expected codes of shape [S, K, F] (streams, codebooks, frames), got {list(codes.shape)}.")
    streams, _, num_frames = codes.shape
    rate = model.sample_rate if rate is None else int(rate)
    band = model.branch_index(rate)
    hop = model.branches[band].hop_length
    total = num_frames * hop if length is None else output_length(model, length, rate)
    if not 0 < total <= num_frames * hop:
        raise ValueError(f"A length of {length} samples does not fit {num_frames} frames of codes.")
    frame_rate = model.frame_rate
    chunks = plan_chunks(num_frames, seconds_to_frames(chunk_seconds, frame_rate, 1, 'chunk'),
                         seconds_to_frames(context_seconds, frame_rate, 0, 'context'))
    device = model.device
    with active_codebooks(model, model.total_codebooks), torch.inference_mode():
        for batch in _batches(chunks, batch_size):
            blocks: list[tp.Optional[torch.Tensor]] = [None] * len(batch)
            for group in _groups_by_size(batch, lambda c: c.window_frames):
                x = torch.stack([codes[:, :, batch[i].window_start:batch[i].window_stop] for i in group])
                x = x.reshape(len(group) * streams, codes.shape[1], -1).to(device)  # [G * S, K, window frames]
                y = model.decode_bands(x)[band]                                     # [G * S, C / S, frames * hop]
                y = y.reshape(len(group), -1, y.shape[-1])                          # [G, C, frames * hop]
                for j, i in enumerate(group):
                    c = batch[i]
                    blocks[i] = y[j, :, c.offset * hop:(c.offset + c.frames) * hop].float().cpu()
            for c, block in zip(batch, blocks):
                assert block is not None
                keep = min(block.shape[-1], total - c.start * hop)
                if keep > 0:
                    yield block[:, :keep]
            if progress is not None:
                progress(sum(c.frames for c in batch))


def decode_long(model: BandSplitCoding, codes: torch.Tensor, length: tp.Optional[int] = None, *,
                rate: tp.Optional[int] = None, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                context_seconds: float = DEFAULT_CONTEXT_SECONDS, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: tp.Optional[ProgressCallback] = None) -> torch.Tensor:
    """Decode codes `[S, K, F]` chunk by chunk to one tensor `[C, length at rate]`; see `iter_decode`."""
    return torch.cat(list(iter_decode(model, codes, length, rate=rate, chunk_seconds=chunk_seconds,
                                      context_seconds=context_seconds, batch_size=batch_size,
                                      progress=progress)), dim=-1)


__all__ = ['Chunk', 'DEFAULT_BATCH_SIZE', 'DEFAULT_CHUNK_SECONDS', 'DEFAULT_CONTEXT_SECONDS', 'active_codebooks',
           'decode_long', 'encode_long', 'iter_decode', 'output_length', 'plan_chunks', 'seconds_to_frames']
