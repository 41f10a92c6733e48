"""Band token editing: decode the low-band tokens of one clip with the high-band tokens of another.

A band-split model's codes `[B, K, F]` are concatenated lowest branch first and time-aligned across branches.
With `K_low` the codebooks of every branch below the top one (4 for the paper's codec: the 16 kHz branch),
`codes[:, :K_low]` are the low-band tokens and `codes[:, K_low:]` the high-band tokens (32 kHz branch).
Decoding is a sum over branches, `decode(low + high) = U(d16(low)) + d32(high)`, so tokens can be exchanged
between clips. For clips A and B (cropped to a common length `T` and frame count `F`), the decoded variants
(`model.decode`, cropped to `T`) are::

    recon_a     = decode(low_a ++ high_a)     # A's ordinary reconstruction
    recon_b     = decode(low_b ++ high_b)     # B's ordinary reconstruction
    swapped     = decode(low_a ++ high_b)     # = U(d16(low_a)) + d32(high_b)
    low_only    = decode(low_a)               # high tokens dropped: U(d16(low_a))
    high_zeroed = decode(low_a ++ 0)          # every high-band code set to 0: U(d16(low_a)) + d32(0)

Each variant is measured against the codec reconstructions `recon_a` and `recon_b` (what the tokens of A and
B decode to, so that coding error does not blur the effect of the edit), with `cutoff` the Nyquist frequency
of the branch below the top one (8 kHz) and `nyquist` the model's (16 kHz):

- `low_band_sdr_vs_a`: `band_sdr(v, recon_a, (0, cutoff))`: does A's low band survive the edit?
- `high_band_sdr_vs_a`, `high_band_sdr_vs_b`: `band_sdr(v, recon_x, (cutoff, nyquist))`: whose upper band is it?
- `high_band_energy_db_vs_a`, `high_band_energy_db_vs_b`: upper-band energy of `v` relative to `recon_x`'s
  (`inpainting.band_energy_ratio_db`).
- `mel_distance_vs_a`, `mel_distance_vs_b`: `metrics.mel_distance(v, recon_x)`.

Because the split is soft, the high branch also contributes below 8 kHz: `low_band_sdr_vs_a` of `swapped` is
high but finite, and measures how much of A's low band the high tokens carried.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.audio_io import write_wav
from ..models.bandsplit import BandSplitResult
from ..utils import PathLike
from .band_analysis import band_sdr
from .inpainting import band_energy_ratio_db
from .metrics import mel_distance, trusted
from .sections import Analysis, require_band_split, section_rows, table
from .statistics import aggregate_tree, append_tree, mean_over_clips, to_floats

__all__ = [
    'MEASURES',
    'TokenEditing',
    'VARIANTS',
    'TokenEdits',
    'edit_codes',
    'edit_tokens',
    'token_editing',
    'token_editing_metrics',
    'write_examples',
]

VARIANTS: dict[str, str] = {
    'swapped': "decode(low_a ++ high_b): A's low-band tokens with B's high-band tokens",
    'low_only': "decode(low_a): high-band tokens dropped (low-branch output only)",
    'high_zeroed': "decode(low_a ++ 0): every high-band code set to 0",
}
"""The edited decodings, by key."""

MEASURES: tuple[str, ...] = ('low_band_sdr_vs_a', 'high_band_sdr_vs_a', 'high_band_sdr_vs_b',
                             'high_band_energy_db_vs_a', 'high_band_energy_db_vs_b', 'mel_distance_vs_a',
                             'mel_distance_vs_b')
"""What is measured for each variant (see the module docstring)."""


@dataclass
class TokenEdits:
    """The codes and decodings of one token-editing run; signals are `[B, C, T]` at `sample_rate`.

    Attributes:
        codes_a: A's codes `[B, K, F]`.
        codes_b: B's codes `[B, K, F]`.
        low_codebooks: `K_low`, the number of low-band codebooks.
        recon_a: `decode(codes_a)`.
        recon_b: `decode(codes_b)`.
        variants: Edited decodings keyed as in `VARIANTS`.
        sample_rate: The model's sample rate.
        cutoff_hz: Boundary between the low and high bands.
    """
    codes_a: torch.Tensor
    codes_b: torch.Tensor
    low_codebooks: int
    recon_a: torch.Tensor
    recon_b: torch.Tensor
    variants: dict[str, torch.Tensor]
    sample_rate: int
    cutoff_hz: float


@torch.no_grad()
def edit_codes(model: torch.nn.Module, codes_a: torch.Tensor, codes_b: torch.Tensor,
               length: int | None = None) -> TokenEdits:
    """Decode the edited combinations of A's and B's codes (see the module docstring).

    Args:
        model: A band-split model with at least two branches.
        codes_a (torch.Tensor): Codes of A, `[B, K, F_a]`, all active codebooks.
        codes_b (torch.Tensor): Codes of B, `[B, K, F_b]`, same `B` and `K`.
        length (int, optional): Crop every decoding to this many samples (the clips' common length).
            Defaults to whole frames, `min(F_a, F_b) * hop`.
    Returns:
        TokenEdits: the decodings, `[B, C, T]`.
    """
    require_band_split(model, "Token editing")
    k_low = model.low_band_codebooks
    codes_a, codes_b = model.check_codes(codes_a), model.check_codes(codes_b)
    if codes_a.shape[:2] != codes_b.shape[:2]:
        raise ValueError(f"Codes of A and B must have the same batch size and number of codebooks, got shapes "
                         f"{tuple(codes_a.shape)} and {tuple(codes_b.shape)}.")
    if codes_a.shape[1] != model.num_codebooks:
        raise ValueError(f"Token editing needs all {model.num_codebooks} active codebooks, got {codes_a.shape[1]}.")
    frames = min(codes_a.shape[-1], codes_b.shape[-1])
    codes_a, codes_b = codes_a[..., :frames], codes_b[..., :frames]
    low_a, high_b = codes_a[:, :k_low], codes_b[:, k_low:]
    decodings = {
        'recon_a': codes_a,
        'recon_b': codes_b,
        'swapped': torch.cat([low_a, high_b], dim=1),
        'low_only': low_a,
        'high_zeroed': torch.cat([low_a, torch.zeros_like(high_b)], dim=1),
    }
    decoded = {key: model.decode(codes) for key, codes in decodings.items()}
    full = decoded['recon_a'].shape[-1]
    length = full if length is None else min(int(length), full)
    if length <= 0:
        raise ValueError(f"The decoding length must be positive, got {length}.")
    decoded = {key: wav[..., :length] for key, wav in decoded.items()}
    return TokenEdits(codes_a=codes_a, codes_b=codes_b, low_codebooks=k_low, recon_a=decoded.pop('recon_a'),
                      recon_b=decoded.pop('recon_b'), variants=decoded, sample_rate=model.sample_rate,
                      cutoff_hz=model.crossover_hz)


@torch.no_grad()
def edit_tokens(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> TokenEdits:
    """Encode clips `a` and `b` (`[B, C, T_a]`, `[B, C, T_b]` at the model's rate, cropped to the shorter
    length) and decode the edited combinations of their codes."""
    require_band_split(model, "Token editing")
    length = min(a.shape[-1], b.shape[-1])
    codes_a, _ = model.encode(a[..., :length])
    codes_b, _ = model.encode(b[..., :length])
    return edit_codes(model, codes_a, codes_b, length)


def token_editing_metrics(edits: TokenEdits) -> dict[str, dict[str, torch.Tensor]]:
    """The `MEASURES` of every variant: `{variant: {measure: [B]}}` (float32 tensors)."""
    sr = edits.sample_rate
    low_band, high_band = (0.0, edits.cutoff_hz), (edits.cutoff_hz, sr / 2)
    results = {}
    for key, wav in edits.variants.items():  # decoded by the model: trusted signals
        results[key] = {
            'low_band_sdr_vs_a': band_sdr(wav, edits.recon_a, sr, low_band),
            'high_band_sdr_vs_a': band_sdr(wav, edits.recon_a, sr, high_band),
            'high_band_sdr_vs_b': band_sdr(wav, edits.recon_b, sr, high_band),
            'high_band_energy_db_vs_a': band_energy_ratio_db(wav, edits.recon_a, sr, high_band),
            'high_band_energy_db_vs_b': band_energy_ratio_db(wav, edits.recon_b, sr, high_band),
            'mel_distance_vs_a': mel_distance(wav, edits.recon_a, sr),
            'mel_distance_vs_b': mel_distance(wav, edits.recon_b, sr),
        }
    return results


def write_examples(edits: TokenEdits, out_dir: PathLike, a: torch.Tensor | None = None,
                   b: torch.Tensor | None = None) -> list[Path]:
    """Write the decodings (and the originals `a`, `b` if given) of every batch item as 32-bit float WAVs.

    Files: `a.wav`, `b.wav`, `recon_a.wav`, `recon_b.wav`, `swapped.wav`, `low_only.wav`, `high_zeroed.wav`
    (with an `_<item>` suffix when the batch has several items), replacing existing files.
    Returns:
        list of Path: The files written.
    """
    out = Path(out_dir)
    length = edits.recon_a.shape[-1]
    originals = {name: x[..., :length] for name, x in (('a', a), ('b', b)) if x is not None}
    signals = {**originals, 'recon_a': edits.recon_a, 'recon_b': edits.recon_b, **edits.variants}
    batch = edits.recon_a.shape[0]
    written = []
    for name, wav in signals.items():
        for item in range(batch):
            suffix = f'_{item}' if batch > 1 else ''
            written.append(write_wav(out / f'{name}{suffix}.wav', wav[item].detach().cpu(), edits.sample_rate,
                                     overwrite=True, subtype='FLOAT'))
    return written


def token_editing(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor,
                  out_dir: PathLike | None = None) -> dict[str, dict[str, float]]:
    """The whole experiment on clips `a` and `b` `[B, C, T]`: `{variant: {measure: mean over the batch}}`.

    With `out_dir`, the originals and decodings are also written there as WAV files (`write_examples`).
    """
    edits = edit_tokens(model, a, b)
    if out_dir is not None:
        write_examples(edits, out_dir, a, b)
    return mean_over_clips(token_editing_metrics(edits))


class TokenEditing(Analysis):
    """The report's band token editing section: clip `i` paired with clip `i + 1` (cyclically)."""
    key = 'token_editing'
    title = "Token editing"
    heading = "Band token editing"

    def __init__(self, model: torch.nn.Module):
        super().__init__(model)
        self.codes: list[torch.Tensor] = []
        self.lengths: list[int] = []

    def add(self, x: torch.Tensor, result: BandSplitResult) -> None:
        self.codes.append(result.codes.detach())
        self.lengths.append(int(x.shape[-1]))

    @torch.no_grad()
    def finish(self, resamples: int, clip: Callable[[int], torch.Tensor], examples: Path | None) -> dict:
        count = len(self.codes)
        if count < 2:
            return {'applicable': False, 'reason': "Token editing needs at least two clips."}
        pairs = [[i, (i + 1) % count] for i in range(count)]
        written: list[Path] = []
        for number, (i, j) in enumerate(pairs):
            length = min(self.lengths[i], self.lengths[j])
            edits = edit_codes(self.model, self.codes[i], self.codes[j], length)
            with trusted():
                append_tree(self.values, to_floats(token_editing_metrics(edits)))
            if number == 0 and examples is not None:
                written = write_examples(edits, examples, clip(i)[..., :length], clip(j)[..., :length])
        return {'applicable': True, 'low_codebooks': self.model.low_band_codebooks, 'pairs': pairs,
                'variants': dict(VARIANTS), 'per_pair': self.values,
                'aggregate': aggregate_tree(self.values, resamples), 'examples': written}

    @staticmethod
    def body(sections: Sequence[Mapping], models: Mapping[str, Mapping], signals: Mapping[str, str],
             header: Sequence[str]) -> list[str]:
        variants = "; ".join(f"`{key}`: {text}" for key, text in VARIANTS.items())
        lines = [f"Pairs (A, B) = (clip i, clip i + 1). {variants}. Measured against the codec reconstructions "
                  "of A and B; low band = 0 to the crossover, high band = crossover to Nyquist. SDR and energy in dB; "
                  "energy relative to the reconstruction's.", ""]
        specs = [(f"{variant}: {measure}", (variant, measure)) for variant in VARIANTS for measure in MEASURES]
        lines += [table(['variant: measure', *header], section_rows(models, 'token_editing', specs)), ""]
        for name, entry in models.items():
            files = entry['token_editing'].get('examples')
            if files:
                lines += [f"Examples ({name}, first pair): " + ", ".join(f"[{Path(f).name}]({f})" for f in files), ""]
        return lines
