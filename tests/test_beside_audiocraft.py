"""The plugin installs into an environment that already has audiocraft 1.3 and its own torch 2.1 (Python 3.10),
without replacing them, and its model, registry and codec tests pass there.

The environment is built from PyPI the way such a user has it: audiocraft with its torch 2.1 pins, minus the
pins that do not install here (av 11 builds only against an FFmpeg install; the demo, video, text-data and
source-separation extras, as in `[tool.uv]` of pyproject.toml). It is kept under `.cache/` (git-ignored), so
only the first run downloads it.
"""
import os
from pathlib import Path
import shutil
import subprocess
import urllib.request

import pytest

from bandsplit_audiocraft.utils.dora import REPO

pytestmark = pytest.mark.slow

ENV = REPO / '.cache' / 'beside-audiocraft-torch2.1'
AUDIOCRAFT_SET = ['audiocraft==1.3.0', 'torch==2.1.0', 'torchaudio==2.1.0']
# What the environment's owner overrides in audiocraft's own requirements to install it at all.
OVERRIDES = ['av>=12', 'numpy<2', *(f'{name}; sys_platform == "never"'
                                    for name in ('gradio', 'demucs', 'torchtext', 'torchvision'))]
TESTS = ['tests/test_registry.py', 'tests/models', 'tests/codec',
         # a property of the locked set (uv.lock), not of this environment, whose transformers warns about torch 2.1
         '--deselect', 'tests/test_registry.py::test_import_prints_nothing']


def python310() -> str:
    """An interpreter of Python 3.10: pyenv's if there is one, else whatever uv finds."""
    root = Path(os.environ.get('PYENV_ROOT', Path.home() / '.pyenv'))
    found = sorted(root.glob('versions/3.10*/bin/python3.10'))
    return str(found[-1]) if found else '3.10'


def run(*args: str, timeout: float = 3600) -> str:
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def torch_version(python: Path) -> str:
    return run(str(python), '-c', 'import torch; print(torch.__version__)').strip()


def test_installs_beside_audiocraft_and_torch_2_1():
    found = shutil.which('uv')
    assert found is not None, "uv is not on the PATH (the test command installs it)"
    # --no-config: this repository's uv settings would apply otherwise, and their overrides pin the locked torch.
    uv = [found, '--no-config']
    try:
        urllib.request.urlopen('https://pypi.org/simple/', timeout=20).close()
    except OSError as error:
        pytest.skip(f"PyPI is unreachable ({error}): the environment of audiocraft 1.3 cannot be built")
    python = ENV / 'bin' / 'python'
    overrides = ENV.with_name(f'{ENV.name}.overrides.txt')
    ENV.parent.mkdir(exist_ok=True)
    overrides.write_text('\n'.join(OVERRIDES) + '\n')
    if not python.exists():
        run(*uv, 'venv', '-q', '--python', python310(), str(ENV))
    run(*uv, 'pip', 'install', '-q', '--python', str(python), '--override', str(overrides), *AUDIOCRAFT_SET)
    before = torch_version(python)
    assert before.startswith('2.1.0'), before

    # A regular (not editable) install of this repository, with the environment's own overrides.
    run(*uv, 'pip', 'install', '-q', '--python', str(python), '--override', str(overrides), '--reinstall-package',
        'bandsplit-audiocraft', str(REPO), 'pytest>=8')
    assert torch_version(python) == before
    print(run(str(python), '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *TESTS).strip().splitlines()[-1])
