"""Tests of band token editing: swapping, dropping and zeroing the high-band tokens of a band-split model."""

import numpy as np
import pytest
import torch

from bandsplit_audiocraft.data.audio_io import read_audio
from bandsplit_audiocraft.data.corpus import synth_clip
from bandsplit_audiocraft.evaluation import token_editing as te
from tests.helpers import build_tiny

SR = 32000


def clip(kind: str, seed: int, seconds: float = 0.3) -> torch.Tensor:
    return torch.from_numpy(synth_clip(kind, seconds, SR, np.random.default_rng(seed)))[None, None]


@torch.no_grad()
def test_own_tokens_reproduce_the_decode_and_swaps_take_the_high_branch_of_b(tiny_model):
    a, b = clip('mixture', 0), clip('noise', 1)
    k_low = tiny_model.low_band_codebooks
    assert k_low == tiny_model.codebooks_per_branch[0] == 4
    codes_a, _ = tiny_model.encode(a)
    codes_b, _ = tiny_model.encode(b)
    # A's low tokens with A's high tokens is A's decode, exactly.
    same = te.edit_codes(tiny_model, codes_a, codes_a, a.shape[-1])
    assert torch.equal(same.variants['swapped'], same.recon_a)
    assert torch.equal(same.recon_a, tiny_model.decode(codes_a)[..., :a.shape[-1]])

    edits = te.edit_tokens(tiny_model, a, b)
    assert torch.equal(edits.codes_a, codes_a) and torch.equal(edits.codes_b, codes_b)
    variants = edits.variants
    assert set(variants) == set(te.VARIANTS)
    # decode(low_a ++ high_b) - decode(low_a) is B's high-branch output: the same as in B's own decode.
    low_only_b = tiny_model.decode(codes_b[:, :k_low])[..., :b.shape[-1]]
    torch.testing.assert_close(variants['swapped'] - variants['low_only'], edits.recon_b - low_only_b,
                               atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(variants['low_only'], tiny_model.decode(codes_a[:, :k_low])[..., :a.shape[-1]])
    # Dropped and zeroed high tokens: finite, and different from each other and from A's decode.
    for key in ('low_only', 'high_zeroed'):
        assert torch.isfinite(variants[key]).all()
        assert not torch.allclose(variants[key], edits.recon_a)
    assert not torch.allclose(variants['low_only'], variants['high_zeroed'])

    scores = te.token_editing_metrics(edits)
    assert set(scores) == set(te.VARIANTS) and all(set(s) == set(te.MEASURES) for s in scores.values())
    assert all(torch.isfinite(v).all() for s in scores.values() for v in s.values())
    swapped = scores['swapped']
    assert (swapped['high_band_sdr_vs_b'] > swapped['high_band_sdr_vs_a']).all()
    assert (swapped['low_band_sdr_vs_a'] > 20).all()  # A's low band survives the swap
    assert (scores['low_only']['high_band_energy_db_vs_a'] < 0).all()  # less upper band without high tokens


def test_token_editing_returns_numbers_and_writes_examples(tiny_model, tmp_path):
    a, b = clip('drums', 2), clip('chirp_linear', 3, seconds=0.4)
    scores = te.token_editing(tiny_model, a, b, out_dir=tmp_path)
    assert all(isinstance(v, float) and np.isfinite(v) for s in scores.values() for v in s.values())
    names = {'a', 'b', 'recon_a', 'recon_b', 'swapped', 'low_only', 'high_zeroed'}
    assert {p.stem for p in tmp_path.glob('*.wav')} == names
    wav, sr = read_audio(tmp_path / 'swapped.wav')
    assert sr == SR and wav.shape == (1, a.shape[-1])  # cropped to the shorter clip


def test_token_editing_checks_its_inputs(tiny_model):
    codes = torch.zeros(1, 8, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="same batch size"):
        te.edit_codes(tiny_model, codes, torch.zeros(2, 8, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="all 8 active codebooks"):
        te.edit_codes(tiny_model, codes[:, :4], codes[:, :4])
    with pytest.raises(ValueError, match="at least two branches"):
        te.edit_tokens(build_tiny('single'), clip('mixture', 0), clip('mixture', 1))
