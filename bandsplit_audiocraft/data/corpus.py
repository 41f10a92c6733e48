"""The embedded default corpus on disk: synthetic clips in split folders, with manifests and a content hash.

The package needs no download to train or test: `generate_corpus` writes a small, license-clean corpus of
mono clips made by `synthesis.synth_clip` from seeded random number generators, one folder and one
audiocraft manifest per split. The corpus is written once: a later call with the same parameters finds it
complete (same parameters, manifests and content hash) and writes nothing.
"""

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
import re
import shutil
import tempfile
import typing as tp

import numpy as np

from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes
from .audio_io import write_wav
from .manifest import build_manifest, read_manifest, write_manifest
from .synthesis import KINDS, MUSIC_KINDS, clip_length, demo_signal, high_band_fraction, synth_clip

# The synthesis names are re-exported: callers import the clip kinds and `synth_clip` from here as well.
__all__ = ['CORPUS_VERSION', 'KINDS', 'MUSIC_KINDS', 'SPLITS', 'demo_signal', 'generate_corpus', 'high_band_fraction',
           'synth_clip']

logger = logging.getLogger(__name__)

CORPUS_VERSION = 3  # bump whenever the synthesis changes, so that existing corpora get regenerated.
SPLITS: tp.Tuple[str, ...] = ('train', 'valid', 'evaluate', 'generate')
METADATA_FILE = 'corpus.json'
MANIFEST_FILE = 'data.jsonl'
_CLIP_NAME = re.compile(r'^\d{4,}_[a-z_]+\.wav$')


def _clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Independent generator per (seed, split, clip): splits differ and adding clips keeps existing ones."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))


def _plan(counts: tp.Dict[str, int]) -> tp.Dict[str, tp.List[tp.Tuple[str, str]]]:
    """File name and kind of every clip of every split."""
    plan = {}
    for split in SPLITS:
        kinds = [MUSIC_KINDS[i % len(MUSIC_KINDS)] for i in range(counts[split])]
        plan[split] = [(f'{i:04d}_{kind}.wav', kind) for i, kind in enumerate(kinds)]
    return plan


def _content_hash(root: Path, plan: tp.Dict[str, tp.List[tp.Tuple[str, str]]]) -> str:
    """sha256 over the relative paths and bytes of every clip of the corpus."""
    digest = hashlib.sha256()
    for split in SPLITS:
        for name, _ in plan[split]:
            digest.update(f'{split}/{name}\n'.encode())
            digest.update((root / split / name).read_bytes())
    return digest.hexdigest()


def _summary(root: Path, params: tp.Dict[str, tp.Any], plan: tp.Dict[str, tp.List[tp.Tuple[str, str]]],
             content_hash: str, generated: bool) -> tp.Dict[str, tp.Any]:
    return {
        'root': str(root), 'generated': generated, 'content_sha256': content_hash, 'params': params,
        'splits': {split: {'path': str(root / split), 'manifest': str(root / split / MANIFEST_FILE),
                           'files': [name for name, _ in plan[split]], 'kinds': [kind for _, kind in plan[split]]}
                   for split in SPLITS},
    }


def _existing_corpus(root: Path, params: tp.Dict[str, tp.Any],
                     plan: tp.Dict[str, tp.List[tp.Tuple[str, str]]]) -> tp.Optional[str]:
    """Content hash of the complete corpus generated with `params` in `root`, or None if there is none."""
    try:
        record = json.loads((root / METADATA_FILE).read_text())
        if record.get('params') != params:
            return None
        for split in SPLITS:
            expected = [str(root / split / name) for name, _ in plan[split]]
            if [entry['path'] for entry in read_manifest(root / split / MANIFEST_FILE)] != expected:
                return None
        content_hash = _content_hash(root, plan)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return content_hash if content_hash == record.get('content_sha256') else None


def _check_owned(folder: Path) -> None:
    """Refuse to replace a split folder holding files the corpus generator did not write."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} exists and is not a folder; remove it or choose another corpus folder.")
    foreign = sorted(p.name for p in folder.iterdir()
                     if not (p.is_file() and (_CLIP_NAME.match(p.name) or p.name == MANIFEST_FILE
                                              or p.name.startswith('.'))))
    if foreign:
        raise ValueError(f"Refusing to regenerate the corpus: {str(folder)!r} holds files the generator did not "
                         f"write ({', '.join(foreign[:5])}); remove them or choose another corpus folder.")


@contextlib.contextmanager
def _locked(root: Path) -> tp.Iterator[None]:
    """Hold an exclusive lock on `root` (POSIX only) so that concurrent processes generate the corpus once."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform.
        yield
        return
    with open(root / '.corpus.lock', 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def generate_corpus(out_dir: PathLike, *, seed: int = 0, num_train: int = 48, num_valid: int = 8,
                    num_evaluate: int = 8, num_generate: int = 4, duration: float = 2.0,
                    sample_rate: int = 32000) -> tp.Dict[str, tp.Any]:
    """Write the embedded corpus to `out_dir/{train,valid,evaluate,generate}/` unless it is already there.

    Each split folder gets `NNNN_<kind>.wav` clips (16-bit mono WAV, kinds cycling through `MUSIC_KINDS`) and an
    audiocraft manifest `data.jsonl`; `out_dir/corpus.json` records the parameters and a content hash.
    If `out_dir` already holds a complete corpus made with the same parameters, nothing is written.
    Otherwise the corpus is generated in a hidden staging folder and moved in place; `corpus.json` is
    written last, so an interrupted generation never looks complete and is redone by the next call.

    Args:
        out_dir (str or Path): Corpus folder, created if needed. Its split folders belong to the generator:
            a split folder holding other files makes this raise instead of replacing it.
        seed (int): Base seed; clip `i` of a split is synthesized from `(seed, split, i)`.
        num_train, num_valid, num_evaluate, num_generate (int): Clips per split, at least 1 each.
        duration (float): Clip length in seconds.
        sample_rate (int): Sample rate in Hz, at least 32000.
    Returns:
        dict: `root`, `generated` (False if the corpus was already there), `content_sha256`, `params`, and
        `splits[split]` with its `path`, `manifest`, `files` and `kinds`.
    """
    counts = {'train': num_train, 'valid': num_valid, 'evaluate': num_evaluate, 'generate': num_generate}
    for split, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"num_{split} must be a positive integer, got {count!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"The seed must be a non-negative integer, got {seed!r}.")
    clip_length(duration, sample_rate)  # checks both before anything on disk changes.
    params = {'version': CORPUS_VERSION, 'seed': int(seed), 'counts': {k: int(v) for k, v in counts.items()},
              'duration': float(duration), 'sample_rate': int(sample_rate)}
    root = Path(out_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ValueError(f"The corpus folder {str(root)!r} exists and is not a folder.")
    root.mkdir(parents=True, exist_ok=True)
    plan = _plan(params['counts'])

    with _locked(root):
        content_hash = _existing_corpus(root, params, plan)
        if content_hash is not None:
            logger.debug("The corpus in %s is complete; nothing to do.", root)
            return _summary(root, params, plan, content_hash, generated=False)
        for split in SPLITS:
            _check_owned(root / split)
        logger.info("Generating the embedded corpus in %s (%d clips).", root, sum(counts.values()))
        (root / METADATA_FILE).unlink(missing_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix='.staging-'))
        try:
            for split in SPLITS:
                for index, (name, kind) in enumerate(plan[split]):
                    clip = synth_clip(kind, params['duration'], params['sample_rate'], _clip_rng(seed, split, index))
                    write_wav(staging / split / name, clip, params['sample_rate'])
            for split in SPLITS:
                if (root / split).exists():
                    os.replace(root / split, staging / f'old-{split}')
                os.replace(staging / split, root / split)
                entries = build_manifest(root / split, extensions=('.wav',))
                assert len(entries) == len(plan[split]), f"unreadable clips in the new {split} split"
                write_manifest(entries, root / split / MANIFEST_FILE)
            content_hash = _content_hash(root, plan)
            record = {'params': params, 'content_sha256': content_hash, 'kinds': list(MUSIC_KINDS),
                      'description': "Embedded synthetic corpus of bandsplit_audiocraft.data.corpus; "
                                     "regenerate with generate_corpus(root, **params)."}
            atomic_write_bytes(root / METADATA_FILE, (json.dumps(record, indent=2) + '\n').encode(), overwrite=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _summary(root, params, plan, content_hash, generated=True)
