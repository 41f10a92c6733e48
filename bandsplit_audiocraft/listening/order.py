"""The per-listener order of a MUSHRA test: trials and conditions shuffled with a generator seeded by the listener.

The page (`static/mushra.js`) and this module compute the same order: the seed is the 32-bit FNV-1a hash of the
UTF-8 text `<test id>:<listener id>`, the generator is Mulberry32, and each list is shuffled by Fisher-Yates
(from the last position down, `j = floor(u * (i + 1))`), the trials first, then the conditions of each trial in
the order the trials are presented. The result files store the seed and the order shown, so the analysis never
needs to recompute it; this module lets a test (or a reader) check it.
"""

from collections.abc import Callable, Sequence
import typing as tp

MASK = 0xFFFFFFFF


def fnv1a(text: str) -> int:
    """32-bit FNV-1a hash of the UTF-8 bytes of `text`."""
    value = 0x811C9DC5
    for byte in text.encode('utf-8'):
        value = ((value ^ byte) * 0x01000193) & MASK
    return value


def _imul(a: int, b: int) -> int:
    return (a * b) & MASK


def mulberry32(seed: int) -> Callable[[], float]:
    """Mulberry32 generator of floats in [0, 1) from a 32-bit seed (the same stream as the page's)."""
    state = seed & MASK

    def draw() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & MASK
        t = _imul(state ^ (state >> 15), state | 1)
        t = ((t + _imul(t ^ (t >> 7), t | 61)) & MASK) ^ t
        return ((t ^ (t >> 14)) & MASK) / 2 ** 32

    return draw


def shuffle(items: Sequence[tp.Any], draw: Callable[[], float]) -> list[tp.Any]:
    """Fisher-Yates shuffle of a copy of `items`."""
    result = list(items)
    for i in range(len(result) - 1, 0, -1):
        j = int(draw() * (i + 1))
        result[i], result[j] = result[j], result[i]
    return result


def listener_seed(test: str, listener: str) -> int:
    """Seed of a listener's order in the test `test`."""
    return fnv1a(f"{test}:{listener}")


def presentation_order(test: str, listener: str,
                       trials: Sequence[dict[str, tp.Any]]) -> list[tuple[str, list[str]]]:
    """`(trial id, condition names in the order shown)` for every trial, in the order a listener sees them."""
    draw = mulberry32(listener_seed(test, listener))
    return [(trial['id'], shuffle([c['name'] for c in trial['conditions']], draw))
            for trial in shuffle(trials, draw)]
