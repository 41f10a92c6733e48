"""Grids of the band-split codec experiments."""
