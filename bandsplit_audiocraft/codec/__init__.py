"""The band-split codec as a file codec: the `.bsac` bitstream and the tools around it.

The package re-exports nothing; import the module you need:

- `bitstream`: the `.bsac` stream format and its reading and writing, `BitstreamError`;
- `packing`: codes packed at their true bit width, the payload of a stream;
- `container`: `.bsac` files of any channel count (one stream per channel), `describe` one;
- `streaming`: `encode_long` / `decode_long`, long audio in chunks with context, in bounded memory;
- `audio_stream`: audio files read and written window by window;
- `model_io`: loading an exported checkpoint and its identity;
- `defaults`: the default windowing of long audio;
- `operations`: compress, decompress and tokenize one file;
- `cli`: the command line, `python -m bandsplit_audiocraft.codec --help`.
"""
