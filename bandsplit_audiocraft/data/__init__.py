"""Audio data for bandsplit_audiocraft: file input/output, audiocraft manifests and the embedded default corpus.

- `audio_io`: `write_wav` (atomic, ffmpeg-free) and `read_audio` (soundfile, PyAV fallback, resampling).
- `manifest`: `make_manifest` / `build_manifest` for any audio folder, also as a command:
  `python -m bandsplit_audiocraft.data.manifest <folder> <out.jsonl>`.
- `synthesis`: `synth_clip`, deterministic music-like clips with content on both sides of 8 kHz, and
  `demo_signal`.
- `corpus`: `generate_corpus`, the synthetic corpus written to disk when no dataset is given.
- `music`: real recorded music (a Debian music package or any folder) as a 32 kHz mono set of whole-track
  splits, for `reproduce` and the quality benchmark.

Import the names from their modules; the package itself exports nothing.
"""
