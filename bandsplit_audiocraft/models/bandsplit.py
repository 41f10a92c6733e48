"""The band-split codec as an audiocraft `CompressionModel`.

Branch `k` (sample rate `R_k`, increasing) codes the residual between the input at `R_k` and the upsampled
reconstruction of the branches below it; the output is the reconstruction at the top rate. See
`bandsplit_audiocraft.bands` for the arithmetic. With one branch the model is a plain single-band
SEANet/RVQ codec, the baseline the band-split codec is compared with.

Codes are time-aligned across branches (every branch has the same frame rate) and concatenated along the
codebook axis, lowest branch first: the first `K_1` codebooks alone are a valid low-band stream.
"""

from dataclasses import dataclass, field
from fractions import Fraction
import typing as tp

from audiocraft import quantization as qt
from audiocraft.models import CompressionModel
import torch
from torch import nn

from .. import bands
from .branch import Branch


@dataclass
class BandSplitResult(qt.QuantizedResult):
    """`QuantizedResult` of a band-split model; `x` is the full-band output at the top rate.

    Every list has one entry per branch, lowest rate first, each at that branch's rate and cropped to the
    input's length at that rate (`ceil(T * R_k / R_K)` samples).

    Attributes:
        branch_outputs: `d_k`, what branch `k` decoded (its share of the output).
        branch_recons: `y_k = U(y_{k-1}) + d_k`, the reconstruction at rate `R_k` (the last one is `x` when
            every branch runs).
        branch_targets: `D_k(input)`, the input resampled to `R_k`, the reference for `branch_recons[k]`.
        branch_penalties: penalty of each branch's quantizer, with its architecture's default weights.
        branch_quantizer_losses: each branch's quantizer losses by name (`Branch.QUANTIZER_LOSSES`), with
            their graph: the solver weights them (`quantizer_losses` in its config).
        branch_bandwidths: bitrate of each branch in kbps.
        branch_rates: `R_k`.
    """
    branch_outputs: tp.List[torch.Tensor] = field(default_factory=list)
    branch_recons: tp.List[torch.Tensor] = field(default_factory=list)
    branch_targets: tp.List[torch.Tensor] = field(default_factory=list)
    branch_penalties: tp.List[torch.Tensor] = field(default_factory=list)
    branch_quantizer_losses: tp.List[tp.Dict[str, torch.Tensor]] = field(default_factory=list)
    branch_bandwidths: tp.List[torch.Tensor] = field(default_factory=list)
    branch_rates: tp.List[int] = field(default_factory=list)

    @property
    def lifted_low(self) -> torch.Tensor:
        """`U(y_{K-1})`: the reconstruction of every branch below the top one, at the top rate (`x - d_K`)."""
        return self.x - self.branch_outputs[-1]


def is_band_split(model: torch.nn.Module) -> bool:
    """Whether `model` is a band-split codec with at least two branches (a low band and a high band)."""
    return isinstance(model, BandSplitCompressionModel) and len(model.branches) >= 2


class BandSplitCompressionModel(CompressionModel):
    """Frequency-band split codec built from audiocraft's SEANet autoencoders and residual vector quantizers.

    Args:
        branches (list of Branch): Branches in increasing sample rate order; all must share the same
            frame rate, channel count and codebook size.
    """

    def __init__(self, branches: tp.Sequence[Branch]):
        super().__init__()
        if len(branches) == 0:
            raise ValueError("A band-split model needs at least one branch.")
        self.branches = nn.ModuleList(branches)
        rates = [b.sample_rate for b in branches]
        if any(lo >= hi for lo, hi in zip(rates, rates[1:])):
            raise ValueError(f"Branch sample rates must be strictly increasing, got {rates}.")
        top = branches[-1]
        for b in branches:
            if b.frame_rate != top.frame_rate:
                table = ', '.join(f"{x.name}: {x.sample_rate} Hz / hop {x.hop_length} = {float(x.frame_rate):g} Hz"
                                  for x in branches)
                needed = Fraction(b.sample_rate) / top.frame_rate
                hint = (f"; branch {b.name!r} needs a hop of {needed} samples" if needed.denominator == 1
                        else f"; no integer hop gives branch {b.name!r} that frame rate")
                raise ValueError(f"All branches must have the same frame rate so their codes are time-aligned "
                                 f"({table}): expected {float(top.frame_rate):g} Hz{hint}.")
            if b.channels != top.channels:
                raise ValueError(f"Branch {b.name!r} has {b.channels} channels, branch {top.name!r} has "
                                 f"{top.channels}: all branches must have the same number of channels.")
            if b.cardinality != top.cardinality:
                raise ValueError(f"Branch {b.name!r} has codebooks of {b.cardinality} entries, branch "
                                 f"{top.name!r} of {top.cardinality}: all branches must share one codebook size.")

    # ---- CompressionModel properties -------------------------------------------------------------------

    @property
    def branch_rates(self) -> tp.List[int]:
        return [b.sample_rate for b in self.branches]

    @property
    def sample_rate(self) -> int:  # type: ignore[override]
        return self.branches[-1].sample_rate

    @property
    def channels(self) -> int:  # type: ignore[override]
        return self.branches[-1].channels

    @property
    def frame_rate(self) -> float:  # type: ignore[override]
        return float(self.branches[-1].frame_rate)

    @property
    def hop_length(self) -> int:
        """Hop of the top branch, in samples at the model's sample rate."""
        return self.branches[-1].hop_length

    @property
    def cardinality(self) -> int:  # type: ignore[override]
        return self.branches[-1].cardinality

    @property
    def total_codebooks(self) -> int:  # type: ignore[override]
        return sum(b.total_codebooks for b in self.branches)

    @property
    def num_codebooks(self) -> int:  # type: ignore[override]
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

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

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

    def forward(self, x: torch.Tensor, sample_rate: tp.Optional[int] = None,
                num_branches: tp.Optional[int] = None) -> BandSplitResult:
        """Code and decode `x` (`[B, C, T]` at `sample_rate`); see `BandSplitResult`.

        With `num_branches = n`, only the `n` lowest branches run (e.g. while training the low branch
        alone); the result's lists then have `n` entries and `x` is `y_n` upsampled to the top rate.
        """
        x = self.check_audio(x, sample_rate)
        length = x.shape[-1]
        n = len(self.branches) if num_branches is None else int(num_branches)
        if not 1 <= n <= len(self.branches):
            raise ValueError(f"num_branches must be between 1 and {len(self.branches)}, got {num_branches}.")
        _, targets = self._targets(x)
        targets = targets[:n]
        outputs: tp.List[torch.Tensor] = []
        recons: tp.List[torch.Tensor] = []
        results: tp.List[qt.QuantizedResult] = []
        for k, (branch, target) in enumerate(zip(self.branches, targets)):
            lower = self._lower(recons, k, target.shape[-1])
            q_res = branch(bands.residual(target, lower))
            outputs.append(q_res.x)
            recons.append(q_res.x if lower is None else lower + q_res.x)
            results.append(q_res)

        rates = self.branch_rates[:n]
        lengths = [bands.branch_length(length, self.sample_rate, sr) for sr in rates]
        full = recons[-1]
        if n < len(self.branches):
            full = bands.resample(full, rates[-1], self.sample_rate, length=length)
        outputs = [y[..., :t] for y, t in zip(outputs, lengths)]
        recons = [y[..., :t] for y, t in zip(recons, lengths)]
        targets = [y[..., :t] for y, t in zip(targets, lengths)]
        penalties = [r.penalty if r.penalty is not None else x.new_zeros(()) for r in results]
        bandwidths = [torch.as_tensor(r.bandwidth, dtype=x.dtype, device=x.device) for r in results]
        metrics: tp.Dict[str, tp.Any] = {}
        quantizer_losses: tp.List[tp.Dict[str, torch.Tensor]] = []
        for branch, r in zip(self.branches, results):
            metrics.update({f'{name}_{branch.name}': value.detach() for name, value in r.metrics.items()})
            quantizer_losses.append({name: r.metrics[name] for name in branch.QUANTIZER_LOSSES if name in r.metrics})
        return BandSplitResult(
            x=full[..., :length],
            codes=torch.cat([r.codes for r in results], dim=1),
            bandwidth=torch.stack(bandwidths).sum(),
            penalty=torch.stack(penalties).sum(),
            metrics=metrics,
            branch_outputs=outputs, branch_recons=recons, branch_targets=targets,
            branch_penalties=penalties, branch_quantizer_losses=quantizer_losses, branch_bandwidths=bandwidths,
            branch_rates=rates)

    def encode(self, x: torch.Tensor, sample_rate: tp.Optional[int] = None
               ) -> tp.Tuple[torch.Tensor, tp.Optional[torch.Tensor]]:
        """Encode `x` (`[B, C, T]`) to codes `[B, K, F]`, `F = ceil(T / hop)`, lowest branch first.

        Returns `(codes, None)`: the model does no renormalization, so there is no scale.
        """
        x = self.check_audio(x, sample_rate)
        _, targets = self._targets(x)
        codes: tp.List[torch.Tensor] = []
        recons: tp.List[torch.Tensor] = []
        for k, (branch, target) in enumerate(zip(self.branches, targets)):
            lower = self._lower(recons, k, target.shape[-1])
            branch_codes = branch.encode(bands.residual(target, lower))
            codes.append(branch_codes)
            if k + 1 < len(self.branches):  # the top branch's decoded output is not needed to encode
                out = branch.decode(branch_codes)
                recons.append(out if lower is None else lower + out)
        return torch.cat(codes, dim=1), None

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

    def extra_repr(self) -> str:
        per = ', '.join(f"{b.name}: {b.sample_rate} Hz x {b.total_codebooks} codebooks" for b in self.branches)
        return f"frame_rate={self.frame_rate:g}, bandwidth={self.bandwidth:g} kbps [{per}]"

