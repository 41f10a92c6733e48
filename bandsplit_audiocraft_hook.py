"""Start-up hook: registers bandsplit_audiocraft with audiocraft as soon as a process imports `audiocraft.models`.

audiocraft has no plugin entry points, so a process that never imports `bandsplit_audiocraft` would not know
band-split checkpoints. The `bandsplit_audiocraft.pth` file installed with the package imports this module
when the interpreter starts. It imports nothing but `sys` (which the interpreter has already loaded) and
puts a finder at the front of `sys.meta_path` that lets every import through untouched except
`audiocraft.models`: that one is found by the other finders as usual, and once it has been executed the
plugin's `registry` is imported, which registers it (`bandsplit_audiocraft.registry.register`). `audiocraft.models` is
the package every audiocraft loader and solver goes through (`CompressionModel.get_pretrained`, `MusicGen`,
`audiocraft.solvers`), so they all find the plugin; a process that does not import audiocraft does not
import the plugin either.
"""

import sys

TRIGGER = 'audiocraft.models'


class _RegisteringLoader:
    """Wraps the loader of `audiocraft.models`: executes the module, then imports the plugin."""

    def __init__(self, loader: object) -> None:
        self.loader = loader

    def create_module(self, spec: object) -> object:
        return self.loader.create_module(spec)

    def exec_module(self, module: object) -> None:
        self.loader.exec_module(module)
        import bandsplit_audiocraft.registry  # noqa: F401  (registers the plugin)

    def __getattr__(self, name: str) -> object:  # get_source, is_package, resource readers...
        return getattr(self.loader, name)


class RegisteringFinder:
    """Meta path finder that hands `audiocraft.models` to the next finders and wraps the loader they return."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> object:
        if fullname != TRIGGER:
            return None
        uninstall()
        for finder in sys.meta_path:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, 'find_spec') else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, 'exec_module'):
                    spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


_FINDER = RegisteringFinder()


def install() -> None:
    """Put the finder first on `sys.meta_path`, unless `audiocraft.models` is imported already (then the
    process has no later import to watch) or the finder is there. `bandsplit_audiocraft` calls it too, for
    processes started without the `.pth` file (a source checkout on `sys.path`)."""
    if TRIGGER not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


install()
