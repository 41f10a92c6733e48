"""Shared fixtures: tiny models built from the package's own configs."""
from pathlib import Path
import typing as tp
import warnings

import pytest
import torch

warnings.filterwarnings('ignore', message='.*weight_norm.*')

import bandsplit_audiocraft  # noqa: E402,F401  (registers the plugin)
from bandsplit_audiocraft.configs import model_config  # noqa: E402
from bandsplit_audiocraft.models import BandSplitCompressionModel, get_bandsplit_model  # noqa: E402

MODEL_PRESETS: tp.Dict[str, tp.List[str]] = {
    'two_band': [],
    'single': ['model=bandsplit/single_32k'],
    'three_band': ['model=bandsplit/three_band', 'sample_rate=48000'],
}


def build_tiny(preset: str = 'two_band', *overrides: str, seed: int = 0) -> BandSplitCompressionModel:
    torch.manual_seed(seed)
    return get_bandsplit_model(model_config([*MODEL_PRESETS[preset], *overrides])).eval()


@pytest.fixture(scope='session')
def tiny_model() -> BandSplitCompressionModel:
    model = build_tiny()
    # Initialise the codebooks (k-means on the first batch) so that codes are meaningful.
    with torch.no_grad():
        model(torch.randn(2, 1, 32000) * 0.1)
    return model


@pytest.fixture(scope='session')
def corpus_dir(tmp_path_factory) -> Path:
    """The embedded corpus with its default parameters, as the solver generates it."""
    from bandsplit_audiocraft.data.corpus import generate_corpus
    root = tmp_path_factory.mktemp('corpus')
    generate_corpus(root)
    return root
