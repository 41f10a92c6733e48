"""What the benchmark scripts share: the machine's description and writing results."""

from __future__ import annotations

import json
from pathlib import Path
import sys
import typing as tp


def machine() -> tp.Dict[str, tp.Any]:
    """The machine's description, `bandsplit_audiocraft.utils.machine.machine` (imported when called: importing
    the package loads audiocraft)."""
    from bandsplit_audiocraft.utils.machine import machine as describe
    return describe()


def command_line(script: str, argv: tp.Optional[tp.Sequence[str]]) -> str:
    """The command that ran `script` (a path relative to the repository) with `argv` (default: sys.argv)."""
    return ' '.join(['python', script, *(argv if argv is not None else sys.argv[1:])])


def write_result(out: tp.Union[str, Path], result: tp.Dict[str, tp.Any]) -> Path:
    """Write `result` as JSON to `out` atomically (a killed run leaves the previous file) and say so."""
    from bandsplit_audiocraft.utils.atomic import atomic_write_bytes
    out = Path(out)
    atomic_write_bytes(out, (json.dumps(result, indent=2, allow_nan=False) + '\n').encode(), overwrite=True)
    print(f"written to {out}")
    return out
