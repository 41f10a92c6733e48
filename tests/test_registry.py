import subprocess
import sys
import typing as tp

from audiocraft.models import CompressionModel, EncodecModel, builders, loaders
from omegaconf import OmegaConf
import pytest
import torch

import bandsplit_audiocraft
from bandsplit_audiocraft.configs import model_config
from bandsplit_audiocraft.export import export_model, model_id
from bandsplit_audiocraft.models import BandSplitCompressionModel
from tests.helpers import Started, build_tiny


def test_register_is_idempotent_and_active():
    bandsplit_audiocraft.register()
    bandsplit_audiocraft.register()
    assert bandsplit_audiocraft.registry.is_registered()
    model = builders.get_compression_model(model_config())
    assert isinstance(model, BandSplitCompressionModel)


def test_stock_encodec_still_builds():
    cfg = OmegaConf.create({
        'compression_model': 'encodec', 'device': 'cpu',
        'encodec': {'autoencoder': 'seanet', 'quantizer': 'rvq', 'sample_rate': 32000, 'channels': 1,
                    'causal': False, 'renormalize': False},
        'seanet': {'dimension': 16, 'channels': 1, 'n_filters': 4, 'lstm': 0, 'ratios': [8, 5, 4, 4],
                   'encoder': {}, 'decoder': {}},
        'rvq': {'n_q': 2, 'bins': 64},
    })
    model = builders.get_compression_model(cfg)
    assert isinstance(model, EncodecModel)
    assert model.frame_rate == 50
    with pytest.raises(KeyError):
        builders.get_compression_model(OmegaConf.create({'compression_model': 'nope', 'device': 'cpu'}))


@torch.no_grad()
def test_export_and_load_through_audiocraft(tmp_path):
    model = build_tiny(seed=3)
    x = torch.randn(2, 1, 7000) * 0.1
    model(x)  # k-means initialisation of the codebooks
    expected = model(x)
    codes, _ = model.encode(x)
    path = export_model(model, model_config(), tmp_path / 'tiny.th')
    for loaded in [CompressionModel.get_pretrained(str(path)), loaders.load_compression_model(str(path))]:
        assert isinstance(loaded, BandSplitCompressionModel)
        assert not loaded.training
        out = loaded(x)
        assert torch.equal(out.x, expected.x)
        assert torch.equal(loaded.encode(x)[0], codes)
        assert torch.equal(loaded.decode(codes), model.decode(codes))
    assert len(model_id(path)) == 16
    assert model_id(path) == model_id(export_model(model, model_config(), tmp_path / 'copy.th'))


def python(code: str, cwd) -> subprocess.CompletedProcess:
    """`python -c code` in a fresh interpreter of this environment, outside the repository."""
    return subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True, timeout=900)


def register_script(first: str) -> str:
    """Import the plugin and audiocraft, `first` first, in a process started without the `.pth` file."""
    imports = ['import bandsplit_audiocraft', 'import audiocraft.models']
    return ("import sys\nimport bandsplit_audiocraft_hook\nbandsplit_audiocraft_hook.uninstall()\n"
            + '\n'.join(imports if first == 'plugin' else imports[::-1]) + "\n"
            "print(sorted({m.partition('.')[0] for m in sys.modules} & {'audiocraft', 'torch'}))\n"
            "print(audiocraft.models.builders.get_compression_model.__module__)")


@pytest.fixture(scope='module')
def importing(tmp_path_factory, tiny_model) -> tp.Iterator[Started]:
    """The fresh interpreters that import audiocraft (most of their time), started together: by test case."""
    cwd = tmp_path_factory.mktemp('fresh')
    path = export_model(tiny_model, model_config(), cwd / 'tiny.th')
    scripts = {first: register_script(first) for first in ('plugin', 'audiocraft')}
    scripts['get_pretrained'] = ("from audiocraft.models import CompressionModel\n"
                                 f"print(type(CompressionModel.get_pretrained({str(path)!r})).__name__)")
    scripts['import'] = 'import bandsplit_audiocraft'
    procs = Started()
    for name, code in scripts.items():
        procs.start(name, [sys.executable, '-c', code], cwd=cwd)
    yield procs
    procs.stop()


def test_startup_hook_imports_nothing_heavy(tmp_path):
    proc = python("import sys; print(sorted(m for m in sys.modules if m.partition('.')[0] in "
                  "('audiocraft', 'bandsplit_audiocraft', 'bandsplit_audiocraft_hook', 'torch')))", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['bandsplit_audiocraft_hook']"


@pytest.mark.parametrize('first', ['plugin', 'audiocraft'])
def test_plugin_registers_once_audiocraft_loads(tmp_path, first, importing):
    """In a process started without the `.pth` file: importing the plugin imports neither audiocraft nor torch,
    and the plugin is registered once both are imported, in either order."""
    proc = importing.result(first)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['audiocraft', 'torch']\nbandsplit_audiocraft.registry\n"
    if first == 'plugin':
        light = python("import sys\nimport bandsplit_audiocraft\n"
                       "print(sorted({m.partition('.')[0] for m in sys.modules} & {'audiocraft', 'torch'}))", tmp_path)
        assert light.stdout == "[]\n", light.stderr


def test_audiocraft_finds_the_plugin_without_its_import(importing):
    """A process that only imports audiocraft loads a band-split export."""
    proc = importing.result('get_pretrained')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'BandSplitCompressionModel\n'


def test_import_prints_nothing(importing):
    """With the locked dependencies, importing the plugin (and so audiocraft, torch, xformers) prints nothing."""
    proc = importing.result('import')
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, '', '')
