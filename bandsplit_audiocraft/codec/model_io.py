"""Loading an exported band-split checkpoint for coding, with its identity for the `.bsac` header.

`load_codec(path, device)` returns a `Codec`: the model (eval mode, every codebook active) loaded through
audiocraft's `CompressionModel.get_pretrained`, and `export.model_id(path)`, the 16 bytes written in every
stream and checked before decoding (`check_stream`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import typing as tp

import torch

from . import bitstream as bs

if tp.TYPE_CHECKING:
    from ..models.bandsplit import BandSplitCompressionModel


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable or not an exported band-split model."""


@dataclasses.dataclass
class Codec:
    """A loaded model, its identity and the checkpoint it came from."""

    model: BandSplitCompressionModel
    model_id: bytes
    checkpoint: Path

    @property
    def low_band_codebooks(self) -> int:
        """Codebooks of the lowest branch, `K_1`."""
        return self.model.branches[0].total_codebooks

    def check_stream(self, header: bs.StreamHeader) -> None:
        """Raise `ModelMismatchError` unless `header` was written by this model."""
        model = self.model
        bs.check_model(header, self.model_id, sample_rate=model.sample_rate,
                       frame_rate=model.branches[-1].frame_rate, cardinality=model.cardinality,
                       branch_rates=model.branch_rates,
                       codebooks_per_branch=[b.total_codebooks for b in model.branches])


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when available, else `cpu`; anything else is checked by torch."""
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise CheckpointError(f"Unknown device {device!r}: {err}") from None
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise CheckpointError(f"Device {device!r} was asked for but CUDA is not available.")
    return device


def load_codec(checkpoint: tp.Union[str, Path], device: str = 'cpu') -> Codec:
    """Load an exported checkpoint (`export.export_model`); raise `CheckpointError` with the reason otherwise."""
    from audiocraft.models import CompressionModel

    from ..export import model_id
    from ..models.bandsplit import BandSplitCompressionModel

    path = Path(checkpoint)
    if not path.exists():
        raise CheckpointError(f"Checkpoint {str(path)!r} does not exist.")
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {str(path)!r} is not a file.")
    device = resolve_device(device)
    try:
        identity = model_id(path)
        model = CompressionModel.get_pretrained(str(path), device=device)
    except Exception as err:  # any failure here means "not a usable checkpoint"
        raise CheckpointError(f"Cannot load checkpoint {str(path)!r}: it is not an exported band-split model "
                              f"({type(err).__name__}: {err}).") from err
    if not isinstance(model, BandSplitCompressionModel):
        raise CheckpointError(f"Checkpoint {str(path)!r} holds a {type(model).__name__}, not a band-split model.")
    model.eval()
    model.set_num_codebooks(model.total_codebooks)
    return Codec(model=model, model_id=identity, checkpoint=path)


__all__ = ['CheckpointError', 'Codec', 'load_codec', 'resolve_device']
