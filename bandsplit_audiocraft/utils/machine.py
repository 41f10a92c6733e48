"""The machine a measurement ran on, recorded beside its figures (benchmarks, the reproduction command)."""

import os
from pathlib import Path
import platform
import typing as tp


def machine() -> tp.Dict[str, tp.Any]:
    """CPU model, cores, torch and Python versions, the GPU (None without CUDA) and its memory, and the load
    average at the time of the call."""
    import torch
    cpuinfo = Path('/proc/cpuinfo')
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(':', 1)[1].strip() for line in lines if line.startswith('model name')),
               platform.processor())
    cuda = torch.cuda.is_available()
    return {'cpu': cpu, 'cores': os.cpu_count(), 'torch': torch.__version__, 'python': platform.python_version(),
            'cuda': torch.cuda.get_device_name() if cuda else None,
            'gpu_count': torch.cuda.device_count() if cuda else 0,
            'gpu_memory_gib': round(torch.cuda.get_device_properties(0).total_memory / 2 ** 30, 1) if cuda else None,
            'load_average': os.getloadavg()}
