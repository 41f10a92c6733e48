"""Loading the package's own training checkpoints with torch >= 2.6.

Training checkpoints written by audiocraft's solvers pickle the experiment's OmegaConf config and flashy's
metric history (with `collections.defaultdict`s), which `torch.load`'s default `weights_only=True` refuses
since torch 2.6. Those checkpoints are the experiment's own files, as trusted as the code that wrote them,
so they are loaded with full unpickling, and only they: `trusted_checkpoint_loading()` lifts the default
for `torch.load` calls made inside a `with` block that do not choose `weights_only` themselves (such as
audiocraft's `utils.checkpoint.load_checkpoint`, used to resume a run), and `restoring_trusted` applies it to
a solver's `restore`, as the plugin's solver builder does for every solver it builds (this package's and
audiocraft's, MusicGen's included). Never use it for files of unknown origin. Exported checkpoints (tensors
and a YAML string) load with `weights_only=True` and need nothing.
"""

import contextlib
import functools
import os
from pathlib import Path
import typing as tp
import warnings

import torch

from . import PathLike

_FORCE_NO_WEIGHTS_ONLY = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


@contextlib.contextmanager
def trusted_checkpoint_loading() -> tp.Iterator[None]:
    """Within the block, `torch.load` calls that leave `weights_only` unset unpickle fully."""
    previous = os.environ.get(_FORCE_NO_WEIGHTS_ONLY)
    os.environ[_FORCE_NO_WEIGHTS_ONLY] = '1'
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=f'.*{_FORCE_NO_WEIGHTS_ONLY}.*')
            yield
    finally:
        if previous is None:
            os.environ.pop(_FORCE_NO_WEIGHTS_ONLY, None)
        else:
            os.environ[_FORCE_NO_WEIGHTS_ONLY] = previous


def restoring_trusted(solver: tp.Any) -> tp.Any:
    """Make `solver.restore` (audiocraft's `StandardSolver.restore`: resuming from the experiment's own
    checkpoints, or from those `continue_from` names) load them within `trusted_checkpoint_loading`; returns
    the solver."""
    restore = solver.restore

    @functools.wraps(restore)
    def trusted_restore(*args: tp.Any, **kwargs: tp.Any) -> tp.Any:
        with trusted_checkpoint_loading():
            return restore(*args, **kwargs)
    solver.restore = trusted_restore
    return solver


def load_training_checkpoint(path: PathLike) -> tp.Dict[str, tp.Any]:
    """Load a training checkpoint (`checkpoint.th` of an experiment) on CPU, config and history included."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        return torch.load(path, map_location='cpu', weights_only=False)
    except (EOFError, RuntimeError) as err:  # truncated or not a torch file
        raise ValueError(f"{path} is not a readable training checkpoint ({err}).") from err
