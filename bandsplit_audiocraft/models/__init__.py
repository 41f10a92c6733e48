"""Compression models: the band-split codec and its branches."""
from .bandsplit import BandSplitCompressionModel, BandSplitResult
from .branch import CodecBranch
from .builders import get_bandsplit_model

__all__ = ['BandSplitCompressionModel', 'BandSplitResult', 'CodecBranch', 'get_bandsplit_model']
