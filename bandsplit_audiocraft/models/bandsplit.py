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
from ..coding import BandSplitCoding
from ..precision import PRECISIONS
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


class BandSplitCompressionModel(BandSplitCoding, CompressionModel):
    """Frequency-band split codec built from audiocraft's SEANet autoencoders and residual vector quantizers.

    The coding scheme (properties, checks, `encode`, `decode`) is `coding.BandSplitCoding`'s; this class adds
    the trainable branches and the training forward pass.

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

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def precision(self) -> str:
        """Precision of the encoders and decoders in `encode`, `decode` and `round_trip` (`set_precision`)."""
        return self.branches[0].precision

    def set_precision(self, precision: str) -> None:
        """Run the encoders and decoders of `encode`, `decode` and `round_trip` in `precision`.

        'float32' (the default) is the reference. 'bfloat16' is an approximate mode: the encoders and decoders
        run under `torch.autocast` in bfloat16 (the quantizers, resampling and residuals stay in float32), which
        is faster on CPUs with bfloat16 instructions (AVX512-BF16, AMX) and on GPUs, and slower elsewhere; its
        codes and audio differ slightly from the reference's (BENCHMARKS.md measures both costs). The training
        forward pass is not affected.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
        for branch in self.branches:
            branch.precision = precision

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

    def extra_repr(self) -> str:
        return self.summary()

