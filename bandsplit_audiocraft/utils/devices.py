"""The torch device a command or a config asks for, checked once where it enters the package."""

import torch


def resolve_device(device: str) -> str:
    """`'auto'` -> `'cuda'` when CUDA is available, else `'cpu'`; any other name is checked.

    Raises:
        ValueError: `device` is not a torch device, or asks for CUDA on a machine without it.
    """
    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        raise ValueError(f"Unknown device {device!r}: {error}.") from None
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was asked for but CUDA is not available; use 'cpu'.")
    return str(parsed)
