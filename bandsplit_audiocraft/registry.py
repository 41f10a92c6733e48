"""Registration of the plugin's models and solvers with audiocraft.

audiocraft builds compression models and solvers from fixed tables
(`audiocraft.models.builders.get_compression_model`, `audiocraft.solvers.get_solver`). `register()` wraps
those functions so that `compression_model: bandsplit` and `solver: bandsplit_codec` resolve to this
package, while every name audiocraft knows keeps its original meaning. Every audiocraft loader
(`CompressionModel.get_pretrained`, `loaders.load_compression_model`, the LM solvers) looks the builder up at
call time, so after `register()` they all load band-split checkpoints.

audiocraft's solvers write their audio samples with `audiocraft.data.audio.audio_write`, which pipes them to an
`ffmpeg` process. `register()` also lets it write WAV files without ffmpeg (`write_audio`), so that
audiocraft's generate stages run where ffmpeg is not installed.

Importing this module calls `register()` (so does `import bandsplit_audiocraft` once audiocraft's models are
loaded); calling it again does nothing.
"""

import functools
import importlib
import shutil
import typing as tp

# `from ... import` rather than attribute access: when the start-up hook (bandsplit_audiocraft_hook) imports
# this module, the `audiocraft` package is still being initialised and has no `models` attribute yet.
from audiocraft import solvers
from audiocraft.data import audio
from audiocraft.models import builders as model_builders
from audiocraft.solvers import builders as solver_builders

# compression_model name -> "module:function" building the model from the full config.
COMPRESSION_MODELS: tp.Dict[str, str] = {
    'bandsplit': 'bandsplit_audiocraft.models.builders:get_bandsplit_model',
}
# solver name -> "module:class".
SOLVERS: tp.Dict[str, str] = {
    'bandsplit_codec': 'bandsplit_audiocraft.solvers.bandsplit_codec:BandSplitCompressionSolver',
}


def _resolve(target: str) -> tp.Any:
    module, _, attr = target.partition(':')
    return getattr(importlib.import_module(module), attr)


def get_compression_model(cfg: tp.Any, _original: tp.Callable = model_builders.get_compression_model):
    """audiocraft's `get_compression_model`, extended with this package's model types."""
    name = cfg.compression_model
    if name in COMPRESSION_MODELS:
        return _resolve(COMPRESSION_MODELS[name])(cfg).to(cfg.get('device', 'cpu'))
    return _original(cfg)


def get_solver(cfg: tp.Any, _original: tp.Callable = solver_builders.get_solver):
    """audiocraft's `get_solver`, extended with this package's solvers; every solver it builds resumes from its
    experiment's checkpoints with torch >= 2.6 too (`utils.checkpoints.restoring_trusted`), which audiocraft's
    own loading refuses there (they pickle the config and the metric history)."""
    from .utils.checkpoints import restoring_trusted
    solver = _resolve(SOLVERS[cfg.solver])(cfg) if cfg.solver in SOLVERS else _original(cfg)
    return restoring_trusted(solver)


def write_audio(out_path: tp.Any, wav: tp.Any, sample_rate: int, flags: tp.List[str],
                _original: tp.Callable = audio._piping_to_ffmpeg) -> None:
    """audiocraft's writer of audio files (float samples `[C, T]` piped to ffmpeg with its output `flags`),
    writing 16-bit WAV with soundfile when no ffmpeg is on the PATH."""
    if shutil.which('ffmpeg') is None and flags == ['-f', 'wav', '-c:a', 'pcm_s16le']:
        from .data.audio_io import write_wav
        write_wav(out_path, wav, sample_rate, overwrite=True)
    else:
        _original(out_path, wav, sample_rate, flags)


@functools.cache
def register() -> None:
    """Make audiocraft's builders know `compression_model: bandsplit` and `solver: bandsplit_codec`, and its
    audio writer write WAV without ffmpeg."""
    model_builders.get_compression_model = get_compression_model
    solver_builders.get_solver = get_solver
    solvers.get_solver = get_solver
    audio._piping_to_ffmpeg = write_audio


def is_registered() -> bool:
    return model_builders.get_compression_model is get_compression_model


register()
