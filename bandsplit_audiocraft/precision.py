"""Precisions the band-split model can code in (`BandSplitCompressionModel.set_precision`, `bandsplit-codec
--precision`): names of torch dtypes, free of torch so that the command line lists them without importing it.

`REFERENCE` is the model's own float32, what every test of equality holds to; the others are approximate modes in
which the encoders and decoders run under `torch.autocast` in that dtype.
"""

REFERENCE = 'float32'
PRECISIONS = (REFERENCE, 'bfloat16')

__all__ = ['PRECISIONS', 'REFERENCE']
