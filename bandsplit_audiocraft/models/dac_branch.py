"""A branch built from the Descript Audio Codec (DAC) architecture.

The DAC baseline of the paper is DAC retrained from scratch at the compared sample rates and bitrates.
`DACBranch` takes DAC's own encoder, decoder and factorized, L2-normalized residual vector quantizer
from the `descript-audio-codec` package (`dac` module: Snake activations, weight-normalized convolutions,
low-dimensional codebooks looked up by cosine similarity) and gives them the branch interface of
`CodecBranch`, so that a DAC model is a `BandSplitCompressionModel` with one DAC branch: the same
`CompressionModel` API, the same solver, losses, discriminators, export and bitstream.

Differences from `dac.DAC` itself, all at the edges:
- `forward` returns audiocraft's `QuantizedResult`; its penalty is DAC's quantizer loss,
  `0.25 * commitment + 1.0 * codebook` (DAC's training weights);
- the decoder output is cut or zero-padded to exactly `frames * hop` samples (DAC's transposed
  convolutions lose one sample per odd stride), which keeps branches time-aligned;
- `set_num_codebooks` restricts encoding to the first codebooks, as `n_quantizers` does in DAC.

The `dac` package (`descript-audio-codec`, slow to import) is imported only when a DAC branch is built.
"""

from fractions import Fraction
import math
import typing as tp

from audiocraft.quantization import QuantizedResult
import torch
from torch import nn
from torch.nn import functional as F

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


class DACBranch(nn.Module):
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

    def __init__(self, sample_rate: int, encoder_dim: int = 64, encoder_rates: tp.Sequence[int] = (2, 4, 8, 10),
                 decoder_dim: int = 1536, decoder_rates: tp.Sequence[int] = (10, 8, 4, 2), n_codebooks: int = 8,
                 codebook_size: int = 1024, codebook_dim: int = 8, latent_dim: tp.Optional[int] = None,
                 quantizer_dropout: float = 0.0, channels: int = 1, name: str = ''):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.name = name or f"dac_{self.sample_rate}hz"
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
        self._hop = int(hop)
        self._channels = int(channels)
        self._num_codebooks = int(n_codebooks)
        self.active = True

    @property
    def hop_length(self) -> int:
        return self._hop

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.sample_rate, self.hop_length)

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def cardinality(self) -> int:
        return int(self.quantizer.codebook_size)

    @property
    def total_codebooks(self) -> int:
        return int(self.quantizer.n_codebooks)

    @property
    def num_codebooks(self) -> int:
        return self._num_codebooks if self.active else 0

    def set_num_codebooks(self, n: int) -> None:
        if not 0 <= n <= self.total_codebooks:
            raise ValueError(f"Branch {self.name!r} has {self.total_codebooks} codebooks, cannot use {n}.")
        self.active = n > 0
        if n > 0:
            self._num_codebooks = int(n)

    @property
    def bandwidth(self) -> float:
        """Bitrate of the active codebooks in kbps."""
        return self.num_codebooks * float(self.frame_rate) * math.log2(self.cardinality) / 1000

    def _decode_latent_to_audio(self, z: torch.Tensor) -> torch.Tensor:
        y = self.decoder(z)
        length = z.shape[-1] * self.hop_length
        return F.pad(y, (0, length - y.shape[-1])) if y.shape[-1] < length else y[..., :length]

    def _empty_codes(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], 0, x.shape[-1] // self.hop_length, dtype=torch.long)

    def forward(self, x: torch.Tensor) -> QuantizedResult:
        """Code `x` (`[B, 1, F * hop]`); the result's `x` is the decoded signal of the same shape."""
        if not self.active:
            zero = x.new_zeros(())
            return QuantizedResult(torch.zeros_like(x), self._empty_codes(x), zero, penalty=zero)
        z = self.encoder(x)
        # In training DAC codes with every codebook (or a random number, with quantizer dropout);
        # at inference with the first `num_codebooks`.
        z_q, codes, _, commitment, codebook = self.quantizer(z, n_quantizers=self._num_codebooks)
        penalty = COMMITMENT_WEIGHT * commitment + CODEBOOK_WEIGHT * codebook
        bandwidth = torch.tensor(self.bandwidth, device=x.device)
        return QuantizedResult(self._decode_latent_to_audio(z_q), codes, bandwidth, penalty=penalty,
                               metrics={'commitment': commitment.detach(), 'codebook': codebook.detach()})

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of `x`, `[B, K, F]` with `K = num_codebooks`."""
        if not self.active:
            return self._empty_codes(x)
        was_training = self.quantizer.training
        self.quantizer.eval()  # DAC's quantizer ignores `n_quantizers` in training mode
        try:
            codes = self.quantizer(self.encoder(x), n_quantizers=self._num_codebooks)[1]
        finally:
            self.quantizer.train(was_training)
        return codes

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Quantized latent `[B, D, F]` from codes `[B, K, F]` (K may be 0: the latent is then zero)."""
        if codes.shape[1] == 0:
            dim = self.quantizer.quantizers[0].out_proj.out_channels
            return torch.zeros(codes.shape[0], dim, codes.shape[-1], device=codes.device, dtype=self._dtype())
        return self.quantizer.from_codes(codes)[0]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decoded signal `[B, 1, F * hop]` from codes `[B, K, F]`; zero when `K == 0`."""
        if codes.shape[1] == 0:
            return torch.zeros(codes.shape[0], self.channels, codes.shape[-1] * self.hop_length,
                               device=codes.device, dtype=self._dtype())
        return self._decode_latent_to_audio(self.decode_latent(codes))

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def extra_repr(self) -> str:
        return f"name={self.name!r}, sample_rate={self.sample_rate}, hop_length={self.hop_length}, architecture=dac"
