"""Shared fixtures: tiny models built from the package's own configs, the embedded corpus."""
import os
from pathlib import Path
import warnings

import pytest
import torch

warnings.filterwarnings('ignore', message='.*weight_norm.*')

import bandsplit_audiocraft  # noqa: E402,F401  (registers the plugin)
from bandsplit_audiocraft.models import BandSplitCompressionModel  # noqa: E402
from tests.helpers import build_tiny  # noqa: E402


@pytest.fixture(scope='session', autouse=True)
def deployment_cache(tmp_path_factory) -> Path:
    """Deployments (`bandsplit_audiocraft.deploy`) made by the tests go to a fresh cache, subprocesses' too."""
    root = tmp_path_factory.mktemp('deployments')
    os.environ['BANDSPLIT_CACHE'] = str(root)
    return root


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
