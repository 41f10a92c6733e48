"""Loading an exported band-split checkpoint for coding, with its identity for the `.bsac` header.

`load_codec(path, device)` returns a `Codec`: the model with every codebook active and `export.model_id(path)`,
the 16 bytes written in every stream and checked before decoding (`check_stream`). On the CPU the model is
the checkpoint's deployment (`deploy.DeployedModel`: ONNX Runtime, no audiocraft import, made and cached on
first use); elsewhere, or with `reference=True`, it is the PyTorch model loaded through audiocraft's
`CompressionModel.get_pretrained`. Both give the same codes and the same audio to float rounding. An approximate
`precision` (bfloat16) runs the PyTorch model with its encoders and decoders in that dtype.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import typing as tp

from ..precision import REFERENCE
from ..utils import PathLike
from . import bitstream as bs

if tp.TYPE_CHECKING:
    from ..coding import BandSplitCoding


@dataclasses.dataclass
class Codec:
    """A loaded model, its identity and the checkpoint it came from."""

    model: BandSplitCoding
    model_id: bytes
    checkpoint: Path

    @property
    def low_band_codebooks(self) -> int:
        """Codebooks of the lowest branch, `K_1`."""
        return self.model.branches[0].total_codebooks

    def check_stream(self, header: bs.StreamHeader) -> None:
        """Raise a `BitstreamError` ("Model mismatch: ...") unless `header` was written by this model."""
        model = self.model
        bs.check_model(header, self.model_id, sample_rate=model.sample_rate,
                       frame_rate=model.branches[-1].frame_rate, cardinality=model.cardinality,
                       branch_rates=model.branch_rates,
                       codebooks_per_branch=[b.total_codebooks for b in model.branches])


def load_codec(checkpoint: PathLike, device: str = 'cpu', reference: bool = False,
               threads: tp.Optional[int] = None, precision: str = REFERENCE) -> Codec:
    """Load an exported checkpoint (`export.export_model`) on `device` (`auto`, `cpu`, `cuda:1`...).

    On the CPU, unless `reference` or an approximate `precision` (`precision.PRECISIONS`; the PyTorch model runs
    it, `BandSplitCompressionModel.set_precision`, which raises `ValueError` for an unknown one), the checkpoint's
    deployment runs it with `threads` threads (default: torch's thread count). Raises `FileNotFoundError` for a
    missing checkpoint and `ValueError` with the reason for an unknown or unavailable device or a file that is not
    an exported band-split model.
    """
    from ..utils.devices import resolve_device

    path = Path(checkpoint)
    device = resolve_device(device)
    if device == 'cpu' and not reference and precision == REFERENCE:
        from ..deploy import DeployedModel, deployment
        deployed = DeployedModel.load(deployment(path), threads=threads)
        deployed.set_num_codebooks(deployed.total_codebooks)
        return Codec(model=deployed, model_id=deployed.model_id, checkpoint=path)

    from ..export import load_exported, model_id
    from ..models.bandsplit import BandSplitCompressionModel
    model = load_exported(path, device)
    if not isinstance(model, BandSplitCompressionModel):
        raise ValueError(f"Checkpoint {str(path)!r} holds a {type(model).__name__}, not a band-split model.")
    identity = model_id(path)
    model.set_num_codebooks(model.total_codebooks)
    model.set_precision(precision)
    return Codec(model=model, model_id=identity, checkpoint=path)


__all__ = ['Codec', 'load_codec']
