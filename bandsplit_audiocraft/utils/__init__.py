"""Small utilities shared by the package: atomic file output, devices, checkpoints, `dora run`."""

import os
import typing as tp

PathLike = tp.Union[str, os.PathLike]
"""A path given as a string or a path-like object."""
