"""The plugin installs into an environment that already has audiocraft 1.3 and its own torch 2.1 (Python 3.10),
without replacing them, and its model, registry and codec tests pass there.

The environment is built from PyPI the way such a user has it: audiocraft with its torch 2.1 pins, minus the
pins that do not install here (av 11 builds only against an FFmpeg install; the demo, video, text-data and
source-separation extras, as in `[tool.uv]` of pyproject.toml). It is kept under `.cache/` (git-ignored), so
only the first run downloads it.

The build and the tests there run in the background from the start of the session
(`python -m tests.test_beside_audiocraft`, a background run of `tests/conftest.py`): they spend most of their
time downloading, installing and importing on one core, while the other tests run.
"""
import os
from pathlib import Path
import shutil
import subprocess
import sys
import urllib.request

import pytest

from bandsplit_audiocraft.utils.dora import REPO
from tests.background import background_run

pytestmark = pytest.mark.slow

ENV = REPO / '.cache' / 'beside-audiocraft-torch2.1'
AUDIOCRAFT_SET = ['audiocraft==1.3.0', 'torch==2.1.0', 'torchaudio==2.1.0']
# What the environment's owner overrides in audiocraft's own requirements to install it at all.
OVERRIDES = ['av>=12', 'numpy<2', *(f'{name}; sys_platform == "never"'
                                    for name in ('gradio', 'demucs', 'torchtext', 'torchvision'))]
TESTS = ['tests/test_registry.py', 'tests/models', 'tests/codec',
         # a property of the locked set (uv.lock), not of this environment, whose transformers warns about torch 2.1
         '--deselect', 'tests/test_registry.py::test_import_prints_nothing']
UNAVAILABLE = 77  # exit status of `main` where the environment cannot be built


class Unavailable(Exception):
    """The environment cannot be built on this machine."""


class BuildFailed(Exception):
    """A step of the build, or the tests in the environment, failed."""


def python310() -> str:
    """An interpreter of Python 3.10: pyenv's if there is one, else whatever uv finds."""
    root = Path(os.environ.get('PYENV_ROOT', Path.home() / '.pyenv'))
    found = sorted(root.glob('versions/3.10*/bin/python3.10'))
    return str(found[-1]) if found else '3.10'


def run(*args: str, timeout: float = 3600) -> str:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}  # the tests there see every warning
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BuildFailed(f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def torch_version(python: Path) -> str:
    return run(str(python), '-c', 'import torch; print(torch.__version__)').strip()


def build_and_test() -> str:
    """Build (or reuse) the environment, install this repository into it, run `TESTS` there: pytest's summary line.

    Raises:
        Unavailable: PyPI is unreachable.
        BuildFailed: no uv, a step failed, torch was replaced, or a test failed there.
    """
    found = shutil.which('uv')
    if found is None:
        raise BuildFailed("uv is not on the PATH (the test command installs it)")
    # --no-config: this repository's uv settings would apply otherwise, and their overrides pin the locked torch.
    uv = [found, '--no-config']
    try:
        urllib.request.urlopen('https://pypi.org/simple/', timeout=20).close()
    except OSError as error:
        raise Unavailable(f"PyPI is unreachable ({error}): the environment of audiocraft 1.3 cannot be built") from None
    python = ENV / 'bin' / 'python'
    overrides = ENV.with_name(f'{ENV.name}.overrides.txt')
    ENV.parent.mkdir(exist_ok=True)
    overrides.write_text('\n'.join(OVERRIDES) + '\n')
    if not python.exists():
        run(*uv, 'venv', '-q', '--python', python310(), str(ENV))
    run(*uv, 'pip', 'install', '-q', '--python', str(python), '--override', str(overrides), *AUDIOCRAFT_SET)
    before = torch_version(python)
    if not before.startswith('2.1.0'):
        raise BuildFailed(f"the environment has torch {before}, not 2.1.0")

    # A regular (not editable) install of this repository, with the environment's own overrides.
    run(*uv, 'pip', 'install', '-q', '--python', str(python), '--override', str(overrides), '--reinstall-package',
        'bandsplit-audiocraft', str(REPO), 'pytest>=8')
    after = torch_version(python)
    if after != before:
        raise BuildFailed(f"installing the plugin replaced torch {before} by {after}")
    return run(str(python), '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *TESTS).strip().splitlines()[-1]


def main() -> int:
    try:
        print(build_and_test())
    except Unavailable as error:
        print(error)
        return UNAVAILABLE
    except BuildFailed as error:
        print(error, file=sys.stderr)
        return 1
    return 0


@background_run('beside_audiocraft', 'test_installs_beside_audiocraft_and_torch_2_1')
def _build_and_test_in_the_background(folder: Path) -> list:
    return ['-m', 'tests.test_beside_audiocraft']


def test_installs_beside_audiocraft_and_torch_2_1(background):
    returncode, stdout, stderr = background.result('beside_audiocraft', timeout=3600)
    if returncode == UNAVAILABLE:
        pytest.skip(stdout.strip())
    assert returncode == 0, f"{stdout[-3000:]}\n{stderr[-3000:]}"
    print(stdout.strip())


if __name__ == '__main__':
    sys.exit(main())
