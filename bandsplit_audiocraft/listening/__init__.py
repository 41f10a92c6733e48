"""Listening: a demo page and a MUSHRA listening test (ITU-R BS.1534-3) made from the evaluation's inputs, and the
analysis of the test's result files.

- `pages.make_pages`: exported checkpoints + clips -> a static folder (demo page, MUSHRA page, loudness-matched
  WAV files, spectrograms) that opens from disk.
- `analysis.analyse`: result files -> post-screening, per-condition means with intervals, paired differences
  against a baseline, box plot and Markdown table.
- `server.make_server`: an optional local server that serves the pages and collects the result files.

Command line: `python -m bandsplit_audiocraft.listening {pages, analyse, serve} --help`.
"""
