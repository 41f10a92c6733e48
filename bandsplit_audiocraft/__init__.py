"""bandsplit_audiocraft: frequency-band disentangled neural audio codecs, as an audiocraft plugin.

The plugin's compression model (`compression_model: bandsplit`) and solver (`solver: bandsplit_codec`) are
registered with audiocraft (`registry`) as soon as the process has loaded `audiocraft.models`, the package
every audiocraft loader and solver goes through: at once if it is loaded when this package is imported, else
when it gets loaded (`bandsplit_audiocraft_hook`, which installed packages also run at interpreter start-up).
Importing this package therefore costs nothing more: the file codec's command line (`codec.cli`) shows its
help and describes `.bsac` files without importing audiocraft or torch.
"""
import sys

import bandsplit_audiocraft_hook as _hook

__version__ = '0.1.0'


def register() -> None:
    """Register the plugin with audiocraft now (importing audiocraft); calling it again does nothing."""
    from .registry import register as register_now
    register_now()


if _hook.TRIGGER in sys.modules:
    register()
else:
    _hook.install()

__all__ = ['register']
