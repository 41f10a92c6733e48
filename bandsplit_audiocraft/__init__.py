"""bandsplit_audiocraft: frequency-band disentangled neural audio codecs, as an audiocraft plugin.

Importing the package registers its compression model (`compression_model: bandsplit`) and solver
(`solver: bandsplit_codec`) with audiocraft, so that audiocraft's own loaders build and load them.
"""
from .registry import register

register()

__version__ = '0.1.0'
__all__ = ['register']
