"""Build step of bandsplit-audiocraft beyond pyproject.toml: the `bandsplit_audiocraft.pth` start-up file.

A `.pth` file at the top of site-packages runs its `import` lines when the interpreter starts. The one written
here imports `bandsplit_audiocraft_hook`, which makes audiocraft find the plugin without an import of it
(see that module). It is written by `build_py`, so regular and editable installs both carry it.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = 'bandsplit_audiocraft.pth'
PTH_LINE = 'import bandsplit_audiocraft_hook\n'


class BuildPyWithPth(build_py):
    """`build_py` that also writes the start-up `.pth` file at the root of the build."""

    def run(self) -> None:
        super().run()
        self.pth_path().parent.mkdir(parents=True, exist_ok=True)
        self.pth_path().write_text(PTH_LINE)

    def pth_path(self) -> Path:
        # An editable wheel takes only the packages' mapping from build_lib; setuptools assembles the rest of
        # it in the folder it gives as the install folder.
        root = self.get_finalized_command('install').install_lib if self.editable_mode else self.build_lib
        return Path(root) / PTH_NAME

    def get_outputs(self, include_bytecode: bool = True) -> list:
        return [*super().get_outputs(include_bytecode), str(self.pth_path())]


setup(cmdclass={'build_py': BuildPyWithPth})
