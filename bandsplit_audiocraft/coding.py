"""The band-split coding scheme, over any implementation of its branches.

`CodingBranch` is what one branch exposes to the scheme (its rate, hop, codebooks, and `encode` / `decode`
of the active codebooks); `BandSplitCoding` is the scheme itself: the codec's properties, input checks,
`encode` (each branch codes the residual left by the decoded branches below it, `bands`) and `decode`.

Two implementations share them: the trainable audiocraft model (`models.BandSplitCompressionModel`, whose
branches are `nn.Module`s) and its deployed form (`deploy.DeployedModel`, whose branches run exported graphs
with ONNX Runtime). This module needs torch and julius only, not audiocraft, so that the deployed form
loads without audiocraft's training stack.
"""

from fractions import Fraction
import math
import typing as tp

import torch

from . import bands


class CodingBranch:
    """One branch as the coding scheme sees it.

    Subclasses set `sample_rate`, `name`, `hop_length`, `cardinality`, `total_codebooks`, `channels` and
    `latent_dim`, and provide `_active_codebooks()`, `_set_codebooks(n)`, `_encode(x)`, `_decode_latent(codes)`,
    `_decode(latent)` and `_dtype()`; this base handles frame rate, bitrate, and the inactive state where
    `set_num_codebooks(0)` leaves the branch no codebook (it then codes nothing and decodes to silence).
    """

    sample_rate: int
    name: str
    hop_length: int
    cardinality: int
    total_codebooks: int
    channels: int
    latent_dim: int
    active: bool = True  # False when `set_num_codebooks` leaves this branch no codebook.

    @property
    def frame_rate(self) -> Fraction:
        """Frames per second, exact."""
        return Fraction(self.sample_rate, self.hop_length)

    @property
    def num_codebooks(self) -> int:
        return self._active_codebooks() if self.active else 0

    def set_num_codebooks(self, n: int) -> None:
        if not 0 <= n <= self.total_codebooks:
            raise ValueError(f"Branch {self.name!r} has {self.total_codebooks} codebooks, cannot use {n}.")
        self.active = n > 0
        if n > 0:
            self._set_codebooks(n)

    @property
    def bandwidth(self) -> float:
        """Bitrate of the active codebooks in kbps."""
        return self.num_codebooks * float(self.frame_rate) * math.log2(self.cardinality) / 1000

    def _empty_codes(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], 0, x.shape[-1] // self.hop_length, dtype=torch.long)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of `x` (`[B, C, F * hop]`), `[B, K, F]` with `K = num_codebooks`."""
        return self._encode(x) if self.active else self._empty_codes(x)

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Quantized latent `[B, D, F]` from codes `[B, K, F]` (K may be 0: the latent is then zero)."""
        if codes.shape[1] == 0:
            return torch.zeros(codes.shape[0], self.latent_dim, codes.shape[-1], device=codes.device,
                               dtype=self._dtype())
        return self._decode_latent(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decoded signal `[B, C, F * hop]` from codes `[B, K, F]`; zero when `K == 0`."""
        if codes.shape[1] == 0:
            return torch.zeros(codes.shape[0], self.channels, codes.shape[-1] * self.hop_length,
                               device=codes.device, dtype=self._dtype())
        return self._decode(self._decode_latent(codes))

    # To implement by each branch.
    def _dtype(self) -> torch.dtype:
        raise NotImplementedError

    def _active_codebooks(self) -> int:
        raise NotImplementedError

    def _set_codebooks(self, n: int) -> None:
        raise NotImplementedError

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class BandSplitCoding:
    """The band-split codec's interface over `self.branches` (`CodingBranch`es, lowest rate first).

    Branch `k` (sample rate `R_k`, increasing) codes the residual between the input at `R_k` and the upsampled
    reconstruction of the branches below it; the output is the reconstruction at the top rate. Codes are
    time-aligned across branches and concatenated along the codebook axis, lowest branch first: the first
    `K_1` codebooks alone are a valid low-band stream.
    """

    branches: tp.Sequence[CodingBranch]

    @property
    def branch_rates(self) -> tp.List[int]:
        return [b.sample_rate for b in self.branches]

    @property
    def sample_rate(self) -> int:
        return self.branches[-1].sample_rate

    @property
    def channels(self) -> int:
        return self.branches[-1].channels

    @property
    def frame_rate(self) -> float:
        return float(self.branches[-1].frame_rate)

    @property
    def hop_length(self) -> int:
        """Hop of the top branch, in samples at the model's sample rate."""
        return self.branches[-1].hop_length

    @property
    def cardinality(self) -> int:
        return self.branches[-1].cardinality

    @property
    def total_codebooks(self) -> int:
        return sum(b.total_codebooks for b in self.branches)

    @property
    def num_codebooks(self) -> int:
        return sum(b.num_codebooks for b in self.branches)

    @property
    def codebooks_per_branch(self) -> tp.List[int]:
        """Active codebooks of each branch, lowest first."""
        return [b.num_codebooks for b in self.branches]

    def set_num_codebooks(self, n: int) -> None:
        """Use `n` codebooks in total, filling the lowest branch first.

        With `n <= K_1` only the low branch codes anything, so a stream of the first `n` codebooks is a
        valid low-bandwidth stream; higher branches are switched off until the lower ones are full.
        """
        if not isinstance(n, int) or not 1 <= n <= self.total_codebooks:
            raise ValueError(f"Number of codebooks must be an integer between 1 and {self.total_codebooks}, "
                             f"got {n!r}.")
        for b in self.branches:
            k = min(n, b.total_codebooks)
            b.set_num_codebooks(k)
            n -= k

    @property
    def bandwidth(self) -> float:
        """Bitrate of the active codebooks in kbps."""
        return sum(b.bandwidth for b in self.branches)

    @property
    def crossover_hz(self) -> float:
        """Boundary between the low band and the top branch's band: Nyquist frequency of the branch below the
        top one (8 kHz for 16 + 32 kHz branches); the model's Nyquist frequency when it has one branch."""
        return self.branch_rates[-2] / 2 if len(self.branches) >= 2 else self.sample_rate / 2

    @property
    def low_band_codebooks(self) -> int:
        """Active codebooks of every branch below the top one: the low-band stream is `codes[:, :K_low]`."""
        return sum(self.codebooks_per_branch[:-1])

    @property
    def device(self) -> torch.device:
        """Device that inputs of `encode` and `decode` should be on."""
        raise NotImplementedError

    def _dtype(self) -> torch.dtype:
        raise NotImplementedError

    def summary(self) -> str:
        """Frame rate, bitrate and branches in one line (the models' `repr`)."""
        per = ', '.join(f"{b.name}: {b.sample_rate} Hz x {b.total_codebooks} codebooks" for b in self.branches)
        return f"frame_rate={self.frame_rate:g}, bandwidth={self.bandwidth:g} kbps [{per}]"

    # ---- input checks ----------------------------------------------------------------------------------

    def check_audio(self, x: tp.Any, sample_rate: tp.Optional[int] = None) -> torch.Tensor:
        """Validate a waveform batch and return it in the model's dtype; raises ValueError otherwise."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Expected a torch.Tensor of shape [B, C, T], got {type(x).__name__}.")
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ValueError(f"Input sample rate is {sample_rate} Hz, the model expects {self.sample_rate} Hz: "
                             f"resample first (e.g. audiocraft.data.audio_utils.convert_audio).")
        if x.dim() != 3:
            raise ValueError(f"Expected audio of shape [B, C, T] (batch, channels, time), got shape "
                             f"{tuple(x.shape)}.")
        if x.shape[1] != self.channels:
            raise ValueError(f"Expected {self.channels} channel(s), got {x.shape[1]} (input shape "
                             f"{tuple(x.shape)}).")
        if x.shape[0] == 0 or x.shape[-1] == 0:
            raise ValueError(f"Input is empty (shape {tuple(x.shape)}): need at least one sample per item.")
        if not torch.is_floating_point(x):
            raise TypeError(f"Expected a floating point waveform, got dtype {x.dtype}.")
        if not torch.isfinite(x).all():
            bad = int((~torch.isfinite(x)).sum())
            raise ValueError(f"Input contains {bad} non-finite value(s) (NaN or inf).")
        return x.to(self._dtype())

    def check_codes(self, codes: tp.Any) -> torch.Tensor:
        """Validate codes `[B, K, F]` for decoding; raises ValueError otherwise."""
        if not isinstance(codes, torch.Tensor):
            raise TypeError(f"Expected codes as a torch.Tensor of shape [B, K, F], got {type(codes).__name__}.")
        if codes.dim() != 3:
            raise ValueError(f"Expected codes of shape [B, K, F] (batch, codebooks, frames), got shape "
                             f"{tuple(codes.shape)}.")
        if torch.is_floating_point(codes) or codes.dtype == torch.bool or torch.is_complex(codes):
            raise TypeError(f"Expected integer codes, got dtype {codes.dtype}.")
        if not 1 <= codes.shape[1] <= self.num_codebooks:
            raise ValueError(f"Got {codes.shape[1]} codebooks, expected between 1 and {self.num_codebooks} "
                             f"(active codebooks per branch, lowest first: {self.codebooks_per_branch}).")
        if codes.shape[0] == 0 or codes.shape[-1] == 0:
            raise ValueError(f"Codes are empty (shape {tuple(codes.shape)}).")
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= self.cardinality:
            raise ValueError(f"Codes must lie in [0, {self.cardinality}), got values in [{lo}, {hi}].")
        return codes.long()

    # ---- coding ----------------------------------------------------------------------------------------

    def _targets(self, x: torch.Tensor) -> tp.Tuple[int, tp.List[torch.Tensor]]:
        """Pad `x` to whole frames and resample it to every branch rate (`frames * hop_k` samples each)."""
        frames = bands.padded_length(x.shape[-1], self.hop_length) // self.hop_length
        x = bands.pad_to(x, frames * self.hop_length)
        return frames, bands.analysis(x, self.sample_rate, self.branch_rates)

    def _lower(self, recons: tp.List[torch.Tensor], k: int, length: int) -> tp.Optional[torch.Tensor]:
        """`U_k(y_{k-1})`: the reconstruction below branch `k`, upsampled to its rate."""
        if k == 0:
            return None
        return bands.resample(recons[-1], self.branch_rates[k - 1], self.branch_rates[k], length=length)

    def _code(self, x: torch.Tensor, decode_top: bool) -> tp.Tuple[torch.Tensor, tp.List[torch.Tensor]]:
        """Codes of the checked `x` and the reconstructions `[y_1, ..., y_K]` decoded along the way (the top one only
        when `decode_top`: encoding needs every branch's output but the top one's)."""
        _, targets = self._targets(x)
        codes: tp.List[torch.Tensor] = []
        recons: tp.List[torch.Tensor] = []
        for k, (branch, target) in enumerate(zip(self.branches, targets)):
            lower = self._lower(recons, k, target.shape[-1])
            branch_codes = branch.encode(bands.residual(target, lower))
            codes.append(branch_codes)
            if decode_top or k + 1 < len(self.branches):
                out = branch.decode(branch_codes)
                recons.append(out if lower is None else lower + out)
        return torch.cat(codes, dim=1), recons

    def encode(self, x: torch.Tensor, sample_rate: tp.Optional[int] = None
               ) -> tp.Tuple[torch.Tensor, tp.Optional[torch.Tensor]]:
        """Encode `x` (`[B, C, T]`) to codes `[B, K, F]`, `F = ceil(T / hop)`, lowest branch first.

        Returns `(codes, None)`: the model does no renormalization, so there is no scale.
        """
        codes, _ = self._code(self.check_audio(x, sample_rate), decode_top=False)
        return codes, None

    def round_trip(self, x: torch.Tensor, sample_rate: tp.Optional[int] = None
                   ) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        """`(codes, audio)`: `encode(x)` and `decode(codes)` in one call, with the same operations, so the same
        result, but with every branch decoded once. Separate calls decode the lower branches twice: encoding
        decodes them to form the residual coded above them, and decoding again.

        Audio is `[B, C, F * hop]`, as `decode` returns it.
        """
        codes, recons = self._code(self.check_audio(x, sample_rate), decode_top=True)
        return codes, recons[-1]

    def split_codes(self, codes: torch.Tensor) -> tp.List[torch.Tensor]:
        """Split codes `[B, K, F]` into one `[B, K_k, F]` tensor per branch, filling the lowest first."""
        parts = []
        start = 0
        for b in self.branches:
            stop = min(codes.shape[1], start + b.num_codebooks)
            parts.append(codes[:, start:stop])
            start = stop
        return parts

    def decode_bands(self, codes: torch.Tensor) -> tp.List[torch.Tensor]:
        """Decode codes `[B, K, F]` to the reconstruction at every branch rate, `[y_1, ..., y_K]`.

        `y_k` has `F * hop_k` samples (whole frames; crop to the input length if known). With only the
        first `K_1` codebooks, `y_1` is the low branch's reconstruction and higher `y_k` its upsampling.
        """
        codes = self.check_codes(codes)
        outputs = [branch.decode(c) for branch, c in zip(self.branches, self.split_codes(codes))]
        return bands.compose(outputs, self.branch_rates)

    def decode(self, codes: torch.Tensor, scale: tp.Optional[torch.Tensor] = None) -> torch.Tensor:
        """Decode codes `[B, K, F]` to audio `[B, C, F * hop]` at the model's sample rate.

        Any prefix of the codebooks decodes: the missing upper codebooks contribute nothing, so the first
        `K_1` codebooks give the low branch's reconstruction upsampled to the top rate.
        """
        if scale is not None:
            raise ValueError("This model does no renormalization: `scale` must be None.")
        return self.decode_bands(codes)[-1]

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Quantized latents of all branches concatenated on the channel axis, `[B, sum_k D_k, F]`."""
        codes = self.check_codes(codes)
        return torch.cat([b.decode_latent(c) for b, c in zip(self.branches, self.split_codes(codes))], dim=1)

    def branch_index(self, sample_rate: int) -> int:
        """Index of the branch working at `sample_rate`."""
        if sample_rate not in self.branch_rates:
            raise ValueError(f"No branch at {sample_rate} Hz; branch rates are {self.branch_rates}.")
        return self.branch_rates.index(sample_rate)

    def num_frames(self, length: int) -> int:
        """Number of code frames for an input of `length` samples at the model's rate."""
        return bands.padded_length(length, self.hop_length) // self.hop_length


__all__ = ['BandSplitCoding', 'CodingBranch']
