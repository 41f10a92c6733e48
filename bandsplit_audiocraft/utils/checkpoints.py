"""Loading the package's own training checkpoints with torch >= 2.6.

Training checkpoints written by audiocraft's solvers pickle the experiment's OmegaConf config. Since
torch 2.6, `torch.load` defaults to `weights_only=True`, which refuses those classes. Rather than turning
the safety off, `trusted_checkpoint_loading()` allow-lists exactly the OmegaConf and builtin types such a
config pickles to, for the duration of a `with` block. Exported checkpoints (tensors and a YAML string)
need nothing of this.
"""

import collections
import contextlib
import typing as tp

import omegaconf
from omegaconf import base as omegaconf_base
from omegaconf import nodes as omegaconf_nodes
import torch


def _config_types() -> tp.List[tp.Any]:
    node_types = [getattr(omegaconf_nodes, name) for name in dir(omegaconf_nodes)
                  if isinstance(getattr(omegaconf_nodes, name), type)
                  and issubclass(getattr(omegaconf_nodes, name), omegaconf_nodes.Node)]
    return [omegaconf.DictConfig, omegaconf.ListConfig, omegaconf_base.Metadata, omegaconf_base.ContainerMetadata,
            collections.defaultdict, tp.Any, dict, list, int, float, str, bool, *node_types]


@contextlib.contextmanager
def trusted_checkpoint_loading() -> tp.Iterator[None]:
    """Allow `torch.load(..., weights_only=True)` to read OmegaConf configs inside this block."""
    with torch.serialization.safe_globals(_config_types()):
        yield


def load_training_checkpoint(path: tp.Any) -> tp.Dict[str, tp.Any]:
    """Load a training checkpoint (`checkpoint.th` of an experiment) on CPU, configs included."""
    with trusted_checkpoint_loading():
        return torch.load(path, map_location='cpu', weights_only=True)
