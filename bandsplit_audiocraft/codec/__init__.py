"""Codec utilities that need no model: the `.bsac` bitstream of packed codes (numpy only)."""
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
