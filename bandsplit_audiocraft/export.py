"""Export a trained band-split codec to audiocraft's release format.

An exported file is a `torch.save`d dict `{'best_state': model state dict, 'xp.cfg': config as YAML,
'version': audiocraft version, 'exported': True}`, exactly what audiocraft's
`utils.export.export_encodec` writes, so it loads with
`CompressionModel.get_pretrained(path)` and `audiocraft.models.loaders.load_compression_model(path)` once
`bandsplit_audiocraft` is imported. Files are written atomically.

Command line::

    python -m bandsplit_audiocraft.export <xp signature | xp folder | checkpoint.th> <out.th>
"""

import argparse
import hashlib
from pathlib import Path
import sys
import typing as tp

import audiocraft
from audiocraft.utils.utils import dict_from_config
from omegaconf import OmegaConf
import torch

from .utils import PathLike
from .utils.atomic import atomic_torch_save
from .utils.checkpoints import load_training_checkpoint
from .utils.devices import resolve_device


def export_package(state: tp.Dict[str, torch.Tensor], cfg: tp.Any) -> tp.Dict[str, tp.Any]:
    """The exported dict for a model state and its (training) config, a DictConfig or a nested dict."""
    return {
        'best_state': {k: v.detach().cpu() for k, v in state.items()},
        'xp.cfg': OmegaConf.to_yaml(dict_from_config(OmegaConf.create(cfg))),  # interpolations resolved
        'version': audiocraft.__version__,
        'exported': True,
    }


def export_model(model: torch.nn.Module, cfg: tp.Any, out: PathLike) -> Path:
    """Export `model` (built from `cfg`) to `out`."""
    return atomic_torch_save(export_package(model.state_dict(), cfg), out)


def find_checkpoint(source: PathLike) -> Path:
    """Resolve a checkpoint file from a path to a file, an XP folder, or a dora signature."""
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        candidate = path / 'checkpoint.th'
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"No checkpoint.th in {path}: has this experiment finished an epoch?")
    from .train import main
    folder = Path(main.dora.dir) / 'xps' / str(source)
    if (folder / 'checkpoint.th').is_file():
        return folder / 'checkpoint.th'
    raise FileNotFoundError(f"{source!r} is neither a checkpoint file, an experiment folder, nor the signature of "
                            f"an experiment under {main.dora.dir}.")


def export_checkpoint(source: PathLike, out: PathLike) -> Path:
    """Export the best state of a training checkpoint (or XP) to `out`."""
    checkpoint = find_checkpoint(source)
    pkg = load_training_checkpoint(checkpoint)
    best = pkg.get('best_state') or {}
    state = best.get('model') if isinstance(best, dict) else None
    if not state:
        state = pkg.get('model')
    if not state:
        raise ValueError(f"{checkpoint} holds no model state (keys: {sorted(pkg)}).")
    return atomic_torch_save(export_package(state, pkg['xp.cfg']), out)


def model_id(path: PathLike) -> bytes:
    """16-byte identity of an exported model: a hash of its weights and config, stable across copies."""
    pkg = torch.load(path, map_location='cpu', weights_only=True)
    h = hashlib.blake2b(digest_size=16)
    h.update(pkg['xp.cfg'].encode())
    for name in sorted(pkg['best_state']):
        h.update(name.encode())
        h.update(pkg['best_state'][name].contiguous().numpy().tobytes())
    return h.digest()


def load_exported(checkpoint: PathLike, device: str = 'cpu') -> tp.Any:
    """An exported checkpoint loaded with audiocraft's `CompressionModel.get_pretrained`, in eval mode.

    Raises `FileNotFoundError` for a missing file and `ValueError` for an unknown or unavailable device or a
    file audiocraft cannot load.
    """
    from audiocraft.models import CompressionModel

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {str(path)!r} does not exist (give an exported .th file).")
    device = resolve_device(device)
    try:
        model = CompressionModel.get_pretrained(str(path), device=device)
    except Exception as err:  # any failure here means "not a usable checkpoint"
        raise ValueError(f"Cannot load checkpoint {str(path)!r}: it is not an exported model "
                         f"({type(err).__name__}: {err}).") from err
    return model.eval()


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m bandsplit_audiocraft.export',
        description="Export a trained experiment to a checkpoint loadable with "
                    "CompressionModel.get_pretrained(path).")
    parser.add_argument('source', help="dora signature, experiment folder or checkpoint.th")
    parser.add_argument('out', help="output file, e.g. bandsplit_4kbps.th")
    args = parser.parse_args(argv)
    try:
        out = export_checkpoint(args.source, args.out)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Exported {args.source} to {out} ({out.stat().st_size / 1e6:.2f} MB).")
    return 0


if __name__ == '__main__':
    sys.exit(main())
