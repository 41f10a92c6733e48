"""One branch of a band-split codec: an encoder, a residual vector quantizer and a decoder working at the
branch's own sample rate.

A branch is a codec autoencoder without the `CompressionModel` API around it: it codes whatever signal it
is given (the residual left by the lower branches) and knows its sample rate and hop length, from which
the shared frame rate follows. `Branch` is what the band-split model relies on; `CodecBranch` is the
EnCodec architecture (audiocraft's SEANet encoder/decoder and residual vector quantizer), `DACBranch`
(`dac_branch.py`) the DAC one.
"""

import typing as tp

from audiocraft import quantization as qt
from audiocraft.modules import SEANetDecoder, SEANetEncoder
import torch
from torch import nn

from ..coding import CodingBranch
from ..precision import REFERENCE


class Branch(CodingBranch, nn.Module):
    """What the band-split model needs of a branch: an autoencoder with a residual quantizer at one rate.

    Subclasses provide `hop_length`, `cardinality`, `total_codebooks`, `_set_codebooks(n)`, and the coding
    steps `_code(x)` (training/inference forward of the active codebooks, whose result's `metrics` hold the
    quantizer's training losses by name: `commitment`, and `codebook` where codebooks learn by gradient),
    `_encode(x)`, `_decode_latent(codes)`, `_decode(latent)` and `codebook_latents()`; `CodingBranch` handles
    frame rate, bitrate, and the inactive state where `set_num_codebooks(0)` leaves the branch no codebook (it
    then codes nothing and decodes to silence).
    """

    QUANTIZER_LOSSES = ('commitment', 'codebook')
    """Names of the quantizer losses a branch's `forward` may report in its result's `metrics`."""

    architecture: tp.ClassVar[str]
    """Name of the architecture in model configs (`architecture:` of a branch, key of `builders.ARCHITECTURES`)."""
    config_blocks: tp.ClassVar[tp.Tuple[str, ...]]
    """Config blocks the architecture is built from, each the shared block merged with the branch's own."""
    precision: str = REFERENCE
    """Precision of the encoder and decoder in `encode` / `decode` (`precision.PRECISIONS`; `set_precision` of the
    model sets it)."""

    @classmethod
    def from_config(cls, sample_rate: int, blocks: tp.Dict[str, tp.Dict[str, tp.Any]], channels: int,
                    name: str) -> 'Branch':
        """Build a branch from its merged `config_blocks` (block name -> keyword dictionary)."""
        raise NotImplementedError

    def __init__(self, sample_rate: int, name: str = ''):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.name = name or f"{self.sample_rate}hz"
        self.active = True  # False when `set_num_codebooks` leaves this branch no codebook.

    def _network(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """`module(x)` for the coding steps (the encoder in `_encode`, the decoder in `_decode`), run in the branch's
        `precision` and returned in `x`'s dtype; the quantizer around it always runs in the model's dtype."""
        if self.precision == REFERENCE:
            return module(x)
        with torch.autocast(x.device.type, dtype=getattr(torch, self.precision)):
            return module(x).to(x.dtype)

    def forward(self, x: torch.Tensor) -> qt.QuantizedResult:
        """Code `x` (`[B, C, F * hop]`); the result's `x` is the decoded signal of the same shape."""
        if not self.active:
            zero = x.new_zeros(())
            return qt.QuantizedResult(torch.zeros_like(x), self._empty_codes(x), zero, penalty=zero)
        return self._code(x)

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def extra_repr(self) -> str:
        return f"name={self.name!r}, sample_rate={self.sample_rate}, hop_length={self.hop_length}"

    # To implement by each architecture, besides `CodingBranch`'s coding steps.
    def _code(self, x: torch.Tensor) -> qt.QuantizedResult:
        raise NotImplementedError

    def codebook_latents(self) -> torch.Tensor:
        """What every entry of every codebook adds to the quantized latent, `[K, cardinality, D]`.

        The latent of codes `[B, K', F]` is the sum over the first `K'` codebooks of their entries' rows
        (`_decode_latent`), so these tables describe the quantizer's decoding completely.
        """
        raise NotImplementedError


class CodecBranch(Branch):
    """SEANet + RVQ autoencoder at one sample rate.

    Args:
        encoder (SEANetEncoder): Encoder, `[B, C, T] -> [B, D, T / hop]`.
        decoder (SEANetDecoder): Decoder, `[B, D, F] -> [B, C, F * hop]`.
        quantizer (ResidualVectorQuantizer): Quantizer of dimension `D`.
        sample_rate (int): Sample rate the branch works at.
        name (str): Human readable name used in logs and errors (e.g. "low").
    """
    architecture = 'seanet'
    config_blocks = ('seanet', 'rvq')

    def __init__(self, encoder: SEANetEncoder, decoder: SEANetDecoder, quantizer: qt.ResidualVectorQuantizer,
                 sample_rate: int, name: str = ''):
        super().__init__(sample_rate, name)
        if encoder.hop_length != decoder.hop_length:
            raise ValueError(f"Branch {self.name!r}: encoder hop {encoder.hop_length} differs from decoder hop "
                             f"{decoder.hop_length}.")
        if quantizer.dimension != encoder.dimension:
            raise ValueError(f"Branch {self.name!r}: quantizer dimension {quantizer.dimension} differs from "
                             f"encoder dimension {encoder.dimension}.")
        self.encoder = encoder
        self.decoder = decoder
        self.quantizer = quantizer

    @property
    def hop_length(self) -> int:  # type: ignore[override]
        return int(self.encoder.hop_length)

    @property
    def channels(self) -> int:  # type: ignore[override]
        return int(self.encoder.channels)

    @property
    def latent_dim(self) -> int:  # type: ignore[override]
        return int(self.quantizer.dimension)

    @property
    def cardinality(self) -> int:  # type: ignore[override]
        return int(self.quantizer.bins)

    @property
    def total_codebooks(self) -> int:  # type: ignore[override]
        return int(self.quantizer.total_codebooks)

    def _active_codebooks(self) -> int:
        return int(self.quantizer.num_codebooks)

    def _set_codebooks(self, n: int) -> None:
        self.quantizer.set_num_codebooks(n)

    def _code(self, x: torch.Tensor) -> qt.QuantizedResult:
        q_res = self.quantizer(self.encoder(x), float(self.frame_rate))  # type: ignore[arg-type]
        q_res.x = self.decoder(q_res.x)
        # audiocraft's RVQ learns its codebooks by EMA: its only loss is the commitment term, its penalty.
        q_res.metrics = {**q_res.metrics, 'commitment': q_res.penalty}
        return q_res

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantizer.encode(self._network(self.encoder, x))

    def _decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.decode(codes)

    def codebook_latents(self) -> torch.Tensor:
        entries = torch.arange(self.cardinality, device=self.quantizer.vq.layers[0].codebook.device)[None]
        return torch.stack([layer.decode(entries)[0].t() for layer in self.quantizer.vq.layers])

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self._network(self.decoder, latent)

    @classmethod
    def from_config(cls, sample_rate: int, blocks: tp.Dict[str, tp.Dict[str, tp.Any]], channels: int = 1,
                    name: str = '') -> 'CodecBranch':
        """Build a branch from audiocraft-style `seanet` and `rvq` keyword dictionaries (`blocks`).

        `seanet` may hold `encoder` and `decoder` sub-dictionaries overriding the shared keys, exactly as
        audiocraft's `seanet` config block; `rvq` is passed to `ResidualVectorQuantizer` with the encoder's
        dimension.
        """
        seanet, rvq = dict(blocks['seanet']), blocks['rvq']
        encoder_kwargs = {**seanet, **dict(seanet.pop('encoder', None) or {})}
        decoder_kwargs = {**seanet, **dict(seanet.pop('decoder', None) or {})}
        for kwargs in (encoder_kwargs, decoder_kwargs):
            kwargs.pop('encoder', None)
            kwargs.pop('decoder', None)
            kwargs['channels'] = channels
        encoder = SEANetEncoder(**encoder_kwargs)
        decoder = SEANetDecoder(**decoder_kwargs)
        quantizer = qt.ResidualVectorQuantizer(**{**dict(rvq), 'dimension': encoder.dimension})
        return CodecBranch(encoder, decoder, quantizer, sample_rate=sample_rate, name=name)
