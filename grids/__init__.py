"""Dora grids of bandsplit_audiocraft: `dora grid bandsplit.<name>` runs `grids/bandsplit/<name>.py`."""
