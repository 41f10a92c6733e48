"""What the benchmark scripts share: the machine's description and writing results."""

from __future__ import annotations

import json
import os
from pathlib import Path
import platform
import sys
import typing as tp


def machine() -> tp.Dict[str, tp.Any]:
    """CPU model, cores, torch and Python versions, and the load average at the time of the call."""
    import torch
    cpuinfo = Path('/proc/cpuinfo')
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(':', 1)[1].strip() for line in lines if line.startswith('model name')),
               platform.processor())
    return {'cpu': cpu, 'cores': os.cpu_count(), 'torch': torch.__version__, 'python': platform.python_version(),
            'cuda': torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            'load_average': os.getloadavg()}


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
