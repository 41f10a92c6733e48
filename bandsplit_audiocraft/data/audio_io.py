"""Audio file input/output without ffmpeg: atomic WAV writing and format-tolerant reading.

`write_wav` writes a WAV file with soundfile through a temporary file in the target folder, so that a
reader (or a crashed writer) never sees a half-written file, and refuses to replace an existing file
unless asked to. `read_audio` reads anything soundfile can (wav, flac, ogg, aiff...) and falls back to
audiocraft's PyAV reader for the rest (mp3, m4a...), with optional resampling and channel conversion.

Example:
    >>> import torch
    >>> path = write_wav('/tmp/example.wav', torch.zeros(1, 32000), 32000, overwrite=True)
    >>> wav, sr = read_audio(path, sample_rate=16000)
    >>> wav.shape, sr
    (torch.Size([1, 16000]), 16000)
"""

import logging
from pathlib import Path
import typing as tp

import julius
import numpy as np
import soundfile
import torch

from ..utils import PathLike
from ..utils.atomic import atomic_write, check_destination

logger = logging.getLogger(__name__)

PCM_SUBTYPES = ('PCM_16', 'PCM_24', 'PCM_32', 'PCM_U8')
FLOAT_SUBTYPES = ('FLOAT', 'DOUBLE')
MAX_CHANNELS = 64  # more "channels" than this almost always means a `[T, C]` array was passed.


def _check_rate(sample_rate: tp.Any) -> int:
    """Return `sample_rate` as an int, or raise a ValueError if it is not a positive whole number."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)) \
            or sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ValueError(f"The sample rate must be a positive integer, got {sample_rate!r}.")
    return int(sample_rate)


def _as_channels_first(wav: tp.Union[torch.Tensor, np.ndarray]) -> np.ndarray:
    """Validate `wav` (`[C, T]` or `[T]`) and return it as a float `[T, C]` numpy array for soundfile."""
    if isinstance(wav, torch.Tensor):
        tensor = wav.detach().cpu()
        if tensor.dtype in (torch.float16, torch.bfloat16):  # numpy has no bfloat16.
            tensor = tensor.float()
        array = tensor.numpy()
    elif isinstance(wav, np.ndarray):
        array = wav
    else:
        raise ValueError(f"The audio must be a torch.Tensor or a numpy array, got {type(wav).__name__}.")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"The audio must hold floating point samples in [-1, 1], got dtype {array.dtype}.")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise ValueError(f"The audio must have shape [C, T] or [T], got shape {tuple(array.shape)}.")
    channels, length = array.shape
    if length == 0 or channels == 0:
        raise ValueError(f"The audio is empty (shape {tuple(array.shape)}); there is nothing to write.")
    if channels > MAX_CHANNELS:
        raise ValueError(f"The audio has {channels} channels, more than {MAX_CHANNELS}: "
                         f"it must be [C, T], did you pass [T, C]?")
    if not np.all(np.isfinite(array)):
        raise ValueError("The audio holds NaN or infinite samples.")
    return np.ascontiguousarray(array.T)


def write_wav(path: PathLike, wav: tp.Union[torch.Tensor, np.ndarray], sample_rate: int, *,
              overwrite: bool = False, subtype: str = 'PCM_16') -> Path:
    """Write `wav` to a WAV file atomically and return its path.

    The samples go to a temporary file in the destination folder (created if needed) that is then moved
    over `path` in one step, so `path` is either absent, the old file or the complete new one.

    Args:
        path (str or Path): Destination file; its parent folders are created.
        wav (torch.Tensor or np.ndarray): Float samples, shape `[C, T]` or `[T]` (mono).
        sample_rate (int): Sample rate in Hz.
        overwrite (bool): Replace `path` if it exists. Otherwise an existing `path` raises FileExistsError.
        subtype (str): soundfile subtype: 'PCM_16' (default), 'PCM_24', 'PCM_32', 'PCM_U8', 'FLOAT' or
            'DOUBLE'. For PCM subtypes, samples are clipped to [-1, 1] with a logged warning if needed.
    Returns:
        Path: The written file.
    """
    path = Path(path)
    subtype = subtype.upper()
    if subtype not in PCM_SUBTYPES + FLOAT_SUBTYPES:
        raise ValueError(f"Unknown WAV subtype {subtype!r}; use one of {PCM_SUBTYPES + FLOAT_SUBTYPES}.")
    sample_rate = _check_rate(sample_rate)
    if path.suffix.lower() != '.wav':
        raise ValueError(f"write_wav writes WAV files; the path must end with .wav, got {str(path)!r}.")
    check_destination(path, overwrite)
    data = _as_channels_first(wav)
    if subtype in PCM_SUBTYPES:
        peak = float(np.abs(data).max())
        if peak > 1.0:
            clipped = int(np.count_nonzero(np.abs(data) > 1.0))
            logger.warning("Clipping %d samples of %s (peak %.3f) to [-1, 1] for %s output.",
                           clipped, path, peak, subtype)
            data = np.clip(data, -1.0, 1.0)

    return atomic_write(path, lambda f: soundfile.write(f, data, sample_rate, subtype=subtype, format='WAV'),
                        overwrite=overwrite)


def _read_soundfile(path: Path) -> tp.Tuple[torch.Tensor, int]:
    data, sr = soundfile.read(str(path), dtype='float32', always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sr)


def _read_pyav(path: Path) -> tp.Tuple[torch.Tensor, int]:
    from audiocraft.data.audio import audio_read  # imported lazily: audiocraft is slow to import.

    wav, sr = audio_read(path)
    return wav.float().contiguous(), int(sr)


def convert_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert `wav` to `channels` channels: average to mono, or duplicate a mono signal.

    Shape:
        - Input: `[C, T]`
        - Output: `[channels, T]`
    """
    source = wav.shape[-2]
    if source == channels:
        return wav
    if channels == 1:
        return wav.mean(dim=-2, keepdim=True)
    if source == 1 and channels > 1:
        return wav.expand(*wav.shape[:-2], channels, wav.shape[-1]).contiguous()
    raise ValueError(f"Cannot convert {source} channels to {channels}: only downmixing to mono "
                     f"and duplicating mono are supported.")


def read_audio(path: PathLike, sample_rate: tp.Optional[int] = None,
               channels: tp.Optional[int] = None) -> tp.Tuple[torch.Tensor, int]:
    """Read an audio file as float32 samples, optionally resampled and converted to `channels`.

    soundfile reads wav, flac, ogg, aiff and the other libsndfile formats; other formats (mp3, m4a...)
    are decoded with audiocraft's PyAV reader.

    Args:
        path (str or Path): Audio file.
        sample_rate (int, optional): Resample to this rate (julius windowed sinc). Defaults to the file's.
        channels (int, optional): Downmix to mono by averaging (1) or duplicate a mono file. Defaults to
            the file's channels.
    Returns:
        tuple of torch.Tensor and int: `wav` of shape `[C, T]` (float32) and its sample rate.
    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: `path` is a directory, an empty or corrupt file, holds no samples, or the requested
            sample rate or channel conversion is invalid.
    """
    path = Path(path)
    if sample_rate is not None:
        sample_rate = _check_rate(sample_rate)
    if not path.exists():
        raise FileNotFoundError(f"Audio file {str(path)!r} does not exist.")
    if path.is_dir():
        raise ValueError(f"Cannot read audio from {str(path)!r}: it is a directory.")
    if path.stat().st_size == 0:
        raise ValueError(f"Audio file {str(path)!r} is empty (0 bytes).")
    try:
        wav, sr = _read_soundfile(path)
    except Exception as sf_error:  # any failure means "try the other decoder".
        try:
            wav, sr = _read_pyav(path)
        except Exception as av_error:
            raise ValueError(f"Could not read audio file {str(path)!r}: it is corrupt or in a format neither "
                             f"soundfile ({sf_error}) nor PyAV ({av_error!r}) can decode.") from av_error
    if wav.shape[-1] == 0:
        raise ValueError(f"Audio file {str(path)!r} holds no audio samples.")
    if sample_rate is not None and sample_rate != sr:
        wav = julius.resample_frac(wav, sr, sample_rate)
        sr = sample_rate
    if channels is not None:
        wav = convert_channels(wav, channels)
    return wav.contiguous(), sr
