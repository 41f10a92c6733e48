"""A branch built from the Descript Audio Codec (DAC) architecture.

The DAC baseline of the paper is DAC retrained from scratch at the compared sample rates and bitrates.
`DACBranch` takes DAC's own encoder, decoder and factorized, L2-normalized residual vector quantizer
from the `descript-audio-codec` package (`dac` module: Snake activations, weight-normalized convolutions,
low-dimensional codebooks looked up by cosine similarity) and gives them the branch interface of
`CodecBranch`, so that a DAC model is a `BandSplitCompressionModel` with one DAC branch: the same
`CompressionModel` API, the same solver, losses, discriminators, export and bitstream.

Differences from `dac.DAC` itself, all at the edges:
- `forward` returns audiocraft's `QuantizedResult`; its `metrics` hold DAC's two quantizer losses,
  `commitment` and `codebook` (with their graph, for the solver to weight), and its penalty is their sum
  with DAC's training weights, `0.25 * commitment + 1.0 * codebook`;
- the decoder output is cut or zero-padded to exactly `frames * hop` samples (DAC's transposed
  convolutions lose one sample per odd stride), which keeps branches time-aligned;
- `set_num_codebooks` restricts encoding to the first codebooks, as `n_quantizers` does in DAC.

The `dac` package (`descript-audio-codec`, slow to import) is imported only when a DAC branch is built.
"""

import math
import typing as tp

from audiocraft.quantization import QuantizedResult
import torch
from torch.nn import functional as F

from .branch import Branch

# DAC's loss weights for its quantizer (`vq/commitment_loss`, `vq/codebook_loss` in its training config).
COMMITMENT_WEIGHT = 0.25
CODEBOOK_WEIGHT = 1.0


def _import_dac() -> tp.Any:
    try:
        from dac.model import dac as dac_model
        from dac.nn import quantize
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("The DAC architecture needs the `descript-audio-codec` package, a dependency of "
                          "bandsplit-audiocraft: reinstall the project (`uv sync --frozen`).") from exc
    return dac_model, quantize


class DACBranch(Branch):
    """DAC encoder + factorized RVQ + DAC decoder at one sample rate, with `CodecBranch`'s interface.

    Args:
        sample_rate (int): Sample rate the branch works at.
        encoder_dim (int): Width of the first encoder convolution (doubled at every stride).
        encoder_rates (list of int): Encoder strides; their product is the hop length.
        decoder_dim (int): Width of the first decoder convolution (halved at every stride).
        decoder_rates (list of int): Decoder strides; their product must equal the hop length.
        n_codebooks (int): Number of codebooks.
        codebook_size (int): Entries per codebook.
        codebook_dim (int): Dimension of the factorized codebook space.
        latent_dim (int, optional): Latent dimension, `encoder_dim * 2 ** len(encoder_rates)` by default.
        quantizer_dropout (float): Fraction of each training batch coded with a random number of codebooks.
        channels (int): Audio channels; DAC is mono.
        name (str): Human readable name used in logs and errors.
    """
    architecture = 'dac'
    config_blocks = ('dac',)

    @classmethod
    def from_config(cls, sample_rate: int, blocks: tp.Dict[str, tp.Dict[str, tp.Any]], channels: int = 1,
                    name: str = '') -> 'DACBranch':
        """Build a branch from the `dac` block: DAC's constructor arguments."""
        return cls(sample_rate, **blocks['dac'], channels=channels, name=name)

    def __init__(self, sample_rate: int, encoder_dim: int = 64, encoder_rates: tp.Sequence[int] = (2, 4, 8, 10),
                 decoder_dim: int = 1536, decoder_rates: tp.Sequence[int] = (10, 8, 4, 2), n_codebooks: int = 8,
                 codebook_size: int = 1024, codebook_dim: int = 8, latent_dim: tp.Optional[int] = None,
                 quantizer_dropout: float = 0.0, channels: int = 1, name: str = ''):
        super().__init__(sample_rate, name or f"dac_{int(sample_rate)}hz")
        if channels != 1:
            raise ValueError(f"Branch {self.name!r}: the DAC architecture is mono, got channels={channels}. "
                             "Code stereo audio one channel at a time.")
        hop, decoder_hop = math.prod(encoder_rates), math.prod(decoder_rates)
        if hop != decoder_hop:
            raise ValueError(f"Branch {self.name!r}: encoder rates {list(encoder_rates)} (hop {hop}) and decoder "
                             f"rates {list(decoder_rates)} (hop {decoder_hop}) must have the same product.")
        if n_codebooks < 1:
            raise ValueError(f"Branch {self.name!r}: n_codebooks must be at least 1, got {n_codebooks}.")
        dac_model, quantize = _import_dac()
        latent_dim = int(latent_dim or encoder_dim * 2 ** len(encoder_rates))
        self.encoder = dac_model.Encoder(encoder_dim, list(encoder_rates), latent_dim)
        self.quantizer = quantize.ResidualVectorQuantize(input_dim=latent_dim, n_codebooks=n_codebooks,
                                                         codebook_size=codebook_size, codebook_dim=codebook_dim,
                                                         quantizer_dropout=quantizer_dropout)
        self.decoder = dac_model.Decoder(latent_dim, decoder_dim, list(decoder_rates), d_out=1)
        self.apply(dac_model.init_weights)
        self.hop_length = int(hop)
        self.channels = int(channels)
        self.latent_dim = latent_dim
        self.cardinality = int(codebook_size)
        self.total_codebooks = int(n_codebooks)
        self._num_codebooks = int(n_codebooks)

    def _active_codebooks(self) -> int:
        return self._num_codebooks

    def _set_codebooks(self, n: int) -> None:
        self._num_codebooks = int(n)

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self._whole_frames(self._network(self.decoder, latent), latent.shape[-1])

    def _whole_frames(self, y: torch.Tensor, frames: int) -> torch.Tensor:
        """The decoder's output `y` padded or cut to `frames * hop` samples."""
        length = frames * self.hop_length
        return F.pad(y, (0, length - y.shape[-1])) if y.shape[-1] < length else y[..., :length]

    def _code(self, x: torch.Tensor) -> QuantizedResult:
        # In training DAC codes with every codebook (or a random number, with quantizer dropout);
        # at inference with the first `num_codebooks`.
        z_q, codes, _, commitment, codebook = self.quantizer(self.encoder(x), n_quantizers=self._num_codebooks)
        penalty = COMMITMENT_WEIGHT * commitment + CODEBOOK_WEIGHT * codebook
        bandwidth = torch.tensor(self.bandwidth, device=x.device)
        return QuantizedResult(self._whole_frames(self.decoder(z_q), z_q.shape[-1]), codes, bandwidth, penalty=penalty,
                               metrics={'commitment': commitment, 'codebook': codebook})

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        was_training = self.quantizer.training
        self.quantizer.eval()  # DAC's quantizer ignores `n_quantizers` in training mode
        try:
            return self.quantizer(self._network(self.encoder, x), n_quantizers=self._num_codebooks)[1]
        finally:
            self.quantizer.train(was_training)

    def _decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        return self.quantizer.from_codes(codes)[0]

    def codebook_latents(self) -> torch.Tensor:
        entries = torch.arange(self.cardinality, device=self.quantizer.quantizers[0].codebook.weight.device)[None]
        return torch.stack([q.out_proj(q.decode_code(entries))[0].t() for q in self.quantizer.quantizers])

    def extra_repr(self) -> str:
        return super().extra_repr() + ", architecture=dac"
