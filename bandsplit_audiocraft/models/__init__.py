"""Compression models: the band-split codec and its branches (SEANet + RVQ, or DAC)."""
from .bandsplit import BandSplitCompressionModel, BandSplitResult
from .branch import Branch, CodecBranch
from .builders import get_bandsplit_model
from .dac_branch import DACBranch

__all__ = ['BandSplitCompressionModel', 'BandSplitResult', 'Branch', 'CodecBranch', 'DACBranch', 'get_bandsplit_model']
