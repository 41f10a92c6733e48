"""The band-split codec as a file codec: the `.bsac` bitstream and the tools around it.

Importing this package loads only the bitstream (numpy only). The other modules import torch and a model:

- `bitstream`: the `.bsac` stream format, codes packed at their true bit width;
- `container`: `.bsac` files of any channel count (one stream per channel);
- `streaming`: `encode_long` / `decode_long`, long audio in chunks with context, in bounded memory;
- `audio_stream`: audio files read and written window by window;
- `model_io`: loading an exported checkpoint and its identity;
- `operations`: compress, decompress, tokenize and describe one file;
- `cli`: the command line, `python -m bandsplit_audiocraft.codec --help`.
"""
from .bitstream import (
    FORMAT_VERSION,
    MAGIC,
    SUFFIX,
    BitstreamError,
    CorruptedStreamError,
    InvalidCodesError,
    InvalidHeaderError,
    ModelMismatchError,
    NotAStreamError,
    StreamHeader,
    TruncatedStreamError,
    UnsupportedVersionError,
    check_model,
    decode_stream,
    encode_stream,
    encoded_size,
    pack_codes,
    read_stream,
    truncate_to_branches,
    unpack_codes,
    write_stream,
)

__all__ = [
    'FORMAT_VERSION', 'MAGIC', 'SUFFIX', 'BitstreamError', 'CorruptedStreamError', 'InvalidCodesError',
    'InvalidHeaderError', 'ModelMismatchError', 'NotAStreamError', 'StreamHeader', 'TruncatedStreamError',
    'UnsupportedVersionError', 'check_model', 'decode_stream', 'encode_stream', 'encoded_size', 'pack_codes',
    'read_stream', 'truncate_to_branches', 'unpack_codes', 'write_stream',
]
