"""Audio data for bandsplit_audiocraft: file input/output, audiocraft manifests and the embedded default corpus.

- `audio_io`: `write_wav` (atomic, ffmpeg-free) and `read_audio` (soundfile, PyAV fallback, resampling).
- `manifest`: `make_manifest` / `build_manifest` for any audio folder, also as a command:
  `python -m bandsplit_audiocraft.data.manifest <folder> <out.jsonl>`.
- `corpus`: `generate_corpus`, the deterministic synthetic corpus used when no dataset is given, `synth_clip`
  and `demo_signal`.

The names below are imported on first access, so that importing this package costs nothing and
`python -m bandsplit_audiocraft.data.manifest` runs its module only once. None of them imports audiocraft
(only the PyAV fallbacks do, when needed).
"""

import importlib
import typing as tp

_EXPORTS: tp.Dict[str, str] = {
    'write_wav': 'audio_io', 'read_audio': 'audio_io', 'convert_channels': 'audio_io',
    'generate_corpus': 'corpus', 'synth_clip': 'corpus', 'demo_signal': 'corpus', 'high_band_fraction': 'corpus',
    'KINDS': 'corpus', 'SPLITS': 'corpus',
    'build_manifest': 'manifest', 'make_manifest': 'manifest', 'read_manifest': 'manifest',
    'write_manifest': 'manifest', 'AUDIO_EXTENSIONS': 'manifest',
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> tp.Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> tp.List[str]:
    return sorted(list(globals()) + __all__)


if tp.TYPE_CHECKING:
    from .audio_io import convert_channels, read_audio, write_wav  # noqa: F401
    from .corpus import KINDS, SPLITS, demo_signal, generate_corpus, high_band_fraction, synth_clip  # noqa: F401
    from .manifest import (  # noqa: F401
        AUDIO_EXTENSIONS,
        build_manifest,
        make_manifest,
        read_manifest,
        write_manifest,
    )
