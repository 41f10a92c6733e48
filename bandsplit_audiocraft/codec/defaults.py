"""Default windowing of long audio (`streaming`): how much audio one forward pass codes.

Kept apart from `streaming`, and free of torch, so that the command line states them in its help without
importing torch.
"""

#: Audio coded per window; memory depends on this, not on the signal's duration.
DEFAULT_CHUNK_SECONDS = 10.0
#: Audio coded on each side of a window and discarded, so that window boundaries are inaudible.
DEFAULT_CONTEXT_SECONDS = 1.0
#: Windows coded per forward pass.
DEFAULT_BATCH_SIZE = 4

__all__ = ['DEFAULT_BATCH_SIZE', 'DEFAULT_CHUNK_SECONDS', 'DEFAULT_CONTEXT_SECONDS']
