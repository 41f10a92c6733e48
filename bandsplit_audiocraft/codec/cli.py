"""Command line of the band-split codec: `bandsplit-codec <command> ...` (the console script installed with
the package), or equivalently `python -m bandsplit_audiocraft.codec <command> ...`; see `--help`.

Each command takes a file or a folder (searched recursively, its structure mirrored in the output folder). A
file that fails is reported on stderr with the reason and the others go on. Exit status: 0 on success, 1 when
a file or the checkpoint could not be processed, 2 for a wrong command line. Errors print `error: ...`
without a traceback (`--debug` shows it).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from pathlib import Path
import sys
import typing as tp

from ..precision import PRECISIONS, REFERENCE
from . import bitstream as bs
from .defaults import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS

EPILOG = """\
examples:
  # compress a file at the model's full bitrate, then decode it back to 32 kHz
  bandsplit-codec compress song.flac --checkpoint bandsplit.th
  bandsplit-codec decompress song.bsac song_decoded.wav --checkpoint bandsplit.th

  # a folder at 2 kbps (the lowest branch's codebooks come first), mirrored into out/
  bandsplit-codec compress music/ out/ --bitrate 2 --checkpoint bandsplit.th

  # the 16 kHz low band of a full-band file, or its 32 kHz upsampling
  bandsplit-codec decompress song.bsac low.wav --low-band-only --checkpoint bandsplit.th
  bandsplit-codec decompress song.bsac low32.wav --low-band-only --rate 32000 \\
      --checkpoint bandsplit.th

  # tokens for language-model training: one int16 array [C, K, F] per file and a manifest
  bandsplit-codec tokenize music/ tokens/ --mono --checkpoint bandsplit.th

  # what a compressed file holds
  bandsplit-codec info song.bsac

Multichannel audio is coded channel by channel (the model is mono): a .bsac file of C channels holds C
streams one after the other. Inputs of any rate are resampled to the model's rate (julius); any format
soundfile reads is streamed from disk, others (mp3, m4a...) are decoded whole with PyAV.
"""


def _prog() -> str:
    """`bandsplit-codec` when run as the console script, the module invocation otherwise."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ''
    return name if name == 'bandsplit-codec' else 'python -m bandsplit_audiocraft.codec'


class UsageError(Exception):
    """A wrong command line: exit status 2 (other errors that stop a command exit with 1)."""


def _number(convert: tp.Callable[[str], float], zero: bool = False) -> tp.Callable[[str], tp.Any]:
    """An argparse type: `convert(text)`, finite and positive (or zero, with `zero`)."""
    kind = "whole number" if convert is int else "number"

    def parse(text: str) -> tp.Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind}, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"expected a {'non-negative' if zero else 'positive'} {kind}, "
                                             f"got {text!r}")
        return value
    return parse


_positive_float, _non_negative_float, _positive_int = _number(float), _number(float, zero=True), _number(int)


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=_prog(), formatter_class=formatter, epilog=EPILOG,
        description="Compress audio to .bsac files with a band-split neural codec, decompress them, tokenize\n"
                    "audio for language models and inspect compressed files. Codes are time-aligned across\n"
                    "branches (50 Hz frames), lowest branch first: the first codebooks alone decode to the low\n"
                    "band. Run `COMMAND --help` for the options of a command.")
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True, title='commands')

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('-q', '--quiet', action='store_true', help="print errors only, no progress bars")
    common.add_argument('--debug', action='store_true', help="show the traceback of errors")

    model = argparse.ArgumentParser(add_help=False)
    group = model.add_argument_group('model')
    group.add_argument('--checkpoint', type=Path, required=True, metavar='FILE.th',
                       help="exported model (bandsplit_audiocraft.export); its identity is stored in every .bsac "
                            "file and checked when decoding")
    group.add_argument('--device', default='auto', help="torch device: auto (cuda if available, else cpu), cpu, "
                                                        "cuda, cuda:1... (default: auto)")
    group.add_argument('--reference', action='store_true',
                       help="on the CPU, run the PyTorch model through audiocraft instead of the checkpoint's "
                            "deployment (ONNX Runtime, made and cached on first use; same codes, same audio to "
                            "float rounding, faster to start and to run)")
    group.add_argument('--precision', choices=PRECISIONS, default=REFERENCE,
                       help=f"{REFERENCE} (default), or an approximate mode: the PyTorch model (as with --reference) "
                            "with its encoders and decoders in that dtype, faster on CPUs with bfloat16 instructions "
                            "and on GPUs; its codes and audio differ slightly from the default's (BENCHMARKS.md)")
    chunks = model.add_argument_group('long audio')
    chunks.add_argument('--chunk-seconds', type=_positive_float, default=DEFAULT_CHUNK_SECONDS, metavar='S',
                        help=f"audio coded per window; memory depends on this, not on the file's duration "
                             f"(default: {DEFAULT_CHUNK_SECONDS:g})")
    chunks.add_argument('--context-seconds', type=_non_negative_float, default=DEFAULT_CONTEXT_SECONDS,
                        metavar='S', help=f"extra audio coded on each side of a window and discarded, so that "
                                          f"window boundaries are inaudible (default: {DEFAULT_CONTEXT_SECONDS:g})")
    chunks.add_argument('--batch-size', type=_positive_int, default=DEFAULT_BATCH_SIZE, metavar='N',
                        help=f"windows coded per forward pass (default: {DEFAULT_BATCH_SIZE})")
    group.add_argument('--threads', type=_positive_int, metavar='N',
                       help="CPU threads (default: torch's choice)")
    model.add_argument('--overwrite', action='store_true', help="replace existing output files")

    rate = argparse.ArgumentParser(add_help=False)
    group = rate.add_argument_group('bitrate').add_mutually_exclusive_group()
    group.add_argument('--codebooks', type=_positive_int, metavar='N',
                       help="codebooks to keep, filling the lowest branch first (default: all)")
    group.add_argument('--bitrate', type=_positive_float, metavar='KBPS',
                       help="target bitrate per channel in kbps, e.g. 2 or 4 (0.5 kbps per 1024-entry codebook at "
                            "50 Hz); rounded down to whole codebooks")

    p = sub.add_parser('compress', parents=[common, model, rate], formatter_class=formatter,
                       help="audio file or folder -> .bsac files",
                       description="Compress an audio file, or every audio file under a folder, to .bsac files.",
                       epilog="The output defaults to the input's folder (song.wav -> song.bsac). With a folder "
                              "input, OUTPUT is a folder mirroring the input's structure.")
    p.add_argument('input', type=Path, help="audio file (wav, flac, ogg, mp3...) or folder")
    p.add_argument('output', type=Path, nargs='?', help=".bsac file or folder (default: next to the input)")
    p.add_argument('--low-band-only', action='store_true',
                   help="write the lowest branch's codebooks only (a smaller file decoding to the low band)")

    p = sub.add_parser('decompress', parents=[common, model], formatter_class=formatter,
                       help=".bsac file or folder -> WAV files",
                       description="Decode .bsac files to 16-bit WAV files at the model's rate.",
                       epilog="The output defaults to the input's folder (song.bsac -> song.wav), which is never "
                              "replaced without --overwrite.")
    p.add_argument('input', type=Path, help=".bsac file or folder")
    p.add_argument('output', type=Path, nargs='?', help="WAV file or folder (default: next to the input)")
    p.add_argument('--low-band-only', action='store_true',
                   help="decode the lowest branch's codebooks only; the output is at that branch's rate (16 kHz) "
                        "unless --rate asks for another branch rate")
    p.add_argument('--rate', type=_positive_int, metavar='HZ',
                   help="output rate, one of the model's branch rates (default: 32000, or the low branch's rate "
                        "with --low-band-only)")

    p = sub.add_parser('tokenize', parents=[common, model, rate], formatter_class=formatter,
                       help="audio file or folder -> int16 .npy codes + manifest",
                       description="Encode audio to int16 code arrays [C, K, F] (channels, codebooks lowest branch "
                                   "first, 50 Hz frames) for language-model training, with a JSONL manifest "
                                   "listing path, codes, channels, codebooks, frames and duration per file.")
    p.add_argument('input', type=Path, help="audio file or folder")
    p.add_argument('output', type=Path, help="folder for the .npy files (mirrors the input's structure)")
    p.add_argument('--manifest', type=Path, metavar='FILE.jsonl',
                   help="manifest to write (default: OUTPUT/manifest.jsonl)")
    p.add_argument('--mono', action='store_true', help="downmix to mono first (arrays [1, K, F])")
    p.add_argument('--low-band-only', action='store_true', help="keep the lowest branch's codebooks only")

    p = sub.add_parser('info', parents=[common], formatter_class=formatter,
                       help="describe .bsac files",
                       description="Print what .bsac files hold: model identity, rates, channels, duration, "
                                   "codebooks per branch, bitrate and size. The whole file is checked.")
    p.add_argument('inputs', type=Path, nargs='+', metavar='FILE.bsac', help=".bsac files or folders")
    p.add_argument('--json', action='store_true', help="one JSON object per file")
    p.add_argument('--checkpoint', type=Path, metavar='FILE.th', help="also check that this model decodes them")
    return parser


# ---- file discovery ---------------------------------------------------------------------------------------

def _find_streams(folder: Path) -> list[Path]:
    return sorted(p.absolute() for p in folder.rglob(f'*{bs.SUFFIX}') if p.is_file() and not p.name.startswith('.'))


def _find_audio(folder: Path) -> list[Path]:
    from ..data.manifest import find_audio_files
    return find_audio_files(folder)


def plan_jobs(src: Path, dst: tp.Optional[Path], suffix: str, find: tp.Callable[[Path], list[Path]],
              what: str) -> list[tuple[Path, Path]]:
    """`(input, output)` pairs: one file, or every file `find` returns under a folder, mirrored under `dst`."""
    if not src.exists():
        raise FileNotFoundError(f"{str(src)!r} does not exist.")
    if src.is_dir():
        files = find(src)
        if not files:
            raise FileNotFoundError(f"No {what} found under {str(src)!r}.")
        root = src if dst is None else dst
        if root.exists() and not root.is_dir():
            raise UsageError(f"The input is a folder, so the output must be a folder; {str(root)!r} is a file.")
        base = src.absolute()
        return [(f, root / f.relative_to(base).with_suffix(suffix)) for f in files]
    if dst is None:
        return [(src, src.with_suffix(suffix))]
    if dst.is_dir() or str(dst).endswith(('/', '\\')):
        return [(src, dst / (src.stem + suffix))]
    return [(src, dst)]


# ---- running --------------------------------------------------------------------------------------------

def _describe_error(err: BaseException) -> str:
    if isinstance(err, (UsageError, ValueError, OSError, RuntimeError)):  # BitstreamError, soundfile, I/O errors
        text = str(err)
        if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
            text = f"{text}: {err.filename}"
        return text or type(err).__name__
    return f"unexpected {type(err).__name__}: {err} (run with --debug for the traceback)"


class Runner:
    """Runs one operation over jobs, reporting failures and continuing."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.failed: list[tuple[Path, str]] = []
        self.done = 0

    def progress_factory(self, position: int = 0) -> tp.Optional[tp.Callable[..., tp.Any]]:
        """Bars over the chunks of one long file (below the bar over files at `position` 1)."""
        if self.args.quiet:
            return None
        from tqdm import tqdm
        return functools.partial(tqdm, leave=False, file=sys.stderr, dynamic_ncols=True, disable=None,
                                 position=position)

    def say(self, text: str) -> None:
        if not self.args.quiet:
            from tqdm import tqdm
            tqdm.write(text, file=sys.stdout)

    def error(self, src: Path, message: str) -> None:
        from tqdm import tqdm
        tqdm.write(f"error: {src}: {message}", file=sys.stderr)
        self.failed.append((src, message))

    def run(self, jobs: list[tuple[Path, Path]], work: tp.Callable[[Path, Path, tp.Any], tp.Optional[str]],
            verb: str, writes: bool = True) -> None:
        """Run `work(input, output, progress)` on every job; with `writes`, two inputs may not share an output."""
        seen: dict[Path, Path] = {}
        bar = None
        if len(jobs) > 1 and not self.args.quiet:
            from tqdm import tqdm
            bar = tqdm(total=len(jobs), desc=verb, unit='file', file=sys.stderr, dynamic_ncols=True, disable=None)
        file_progress = self.progress_factory(position=0 if bar is None else 1)
        try:
            for src, dst in jobs:
                key = dst.absolute()
                if writes and key in seen:
                    self.error(src, f"{seen[key]} is also written to {dst}; rename one of them.")
                else:
                    seen[key] = src
                    try:
                        message = work(src, dst, file_progress)
                    except Exception as err:  # reported, then the other files go on
                        if self.args.debug:
                            raise
                        self.error(src, _describe_error(err))
                    else:
                        self.done += 1
                        if message:
                            self.say(message)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        if len(jobs) > 1 and not self.args.quiet and verb != 'info':
            tail = f", {len(self.failed)} failed" if self.failed else ""
            print(f"{verb}: {self.done} file(s) done{tail}.", file=sys.stderr)


def _options(args: argparse.Namespace) -> tp.Any:
    from .operations import ChunkOptions
    return ChunkOptions(args.chunk_seconds, args.context_seconds, args.batch_size)  # checked by argparse


def _load(args: argparse.Namespace) -> tp.Any:
    from . import model_io
    if getattr(args, 'threads', None):
        import torch
        torch.set_num_threads(args.threads)
    codec = model_io.load_codec(args.checkpoint, args.device, reference=getattr(args, 'reference', False),
                                threads=getattr(args, 'threads', None), precision=getattr(args, 'precision', REFERENCE))
    if codec.model.channels != 1:
        raise ValueError(f"The model codes {codec.model.channels} channels jointly; this command line supports "
                         f"mono models, which code every channel separately.")
    return codec


def _num_codebooks(args: argparse.Namespace, codec: tp.Any) -> int:
    """Codebooks asked for with --codebooks / --bitrate / --low-band-only, checked against the model."""
    model = codec.model
    limit = codec.low_band_codebooks if args.low_band_only else model.total_codebooks
    scope = "the low branch has" if args.low_band_only else "the model has"
    per_codebook = math.log2(model.cardinality) * model.frame_rate / 1000  # kbps
    if args.bitrate is not None:
        n = math.floor(args.bitrate / per_codebook + 1e-6)
        if n < 1:
            raise UsageError(f"A bitrate of {args.bitrate:g} kbps is below one codebook ({per_codebook:g} kbps).")
        if n > limit:
            raise UsageError(f"A bitrate of {args.bitrate:g} kbps needs {n} codebooks; {scope} {limit} "
                             f"({limit * per_codebook:g} kbps).")
        return n
    if args.codebooks is not None:
        if args.codebooks > limit:
            raise UsageError(f"--codebooks {args.codebooks} is more than the {limit} codebooks {scope}.")
        return args.codebooks
    return limit


def _kbps(bits_per_second: float) -> str:
    return f"{bits_per_second / 1000:.2f} kbps"


def cmd_compress(args: argparse.Namespace, runner: Runner) -> None:
    from .operations import compress_file
    options = _options(args)
    jobs = plan_jobs(args.input, args.output, bs.SUFFIX, _find_audio, "audio files")
    codec = _load(args)
    n = _num_codebooks(args, codec)

    def work(src: Path, dst: Path, progress: tp.Any) -> str:
        result = compress_file(codec, src, dst, num_codebooks=n, options=options, overwrite=args.overwrite,
                               progress=progress)
        h = result.header
        return (f"{src} -> {dst}: {h.duration:.2f} s, {h.channels} channel(s), {h.present_codebooks} codebooks "
                f"({'+'.join(map(str, h.present_per_branch))}), {_kbps(h.channels * h.nominal_bitrate)} nominal, "
                f"{result.size} bytes ({_kbps(result.bitrate)} on disk)")

    runner.run(jobs, work, 'compress')


def cmd_decompress(args: argparse.Namespace, runner: Runner) -> None:
    from .operations import decompress_file
    options = _options(args)
    jobs = plan_jobs(args.input, args.output, '.wav', _find_streams, f"{bs.SUFFIX} files")
    codec = _load(args)
    if args.rate is not None and args.rate not in codec.model.branch_rates:
        raise UsageError(f"--rate must be one of the model's branch rates {codec.model.branch_rates}, "
                         f"got {args.rate}.")

    def work(src: Path, dst: Path, progress: tp.Any) -> str:
        result = decompress_file(codec, src, dst, low_band_only=args.low_band_only, rate=args.rate,
                                 options=options, overwrite=args.overwrite, progress=progress)
        if result.clipped:
            runner.say(f"warning: {dst}: {result.clipped} sample(s) clipped to [-1, 1].")
        return (f"{src} -> {dst}: {result.length / result.sample_rate:.2f} s at {result.sample_rate} Hz, "
                f"{result.channels} channel(s), {result.codebooks} codebooks decoded")

    runner.run(jobs, work, 'decompress')


def cmd_tokenize(args: argparse.Namespace, runner: Runner) -> None:
    from ..utils.atomic import atomic_write_bytes
    from .operations import tokenize_file
    options = _options(args)
    manifest = args.manifest if args.manifest is not None else args.output / 'manifest.jsonl'
    if manifest.exists() and not args.overwrite:
        raise UsageError(f"The manifest {str(manifest)!r} already exists; pass --overwrite to replace it.")
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"The output must be a folder; {str(args.output)!r} is a file.")
    if args.input.is_file():
        jobs = [(args.input, args.output / (args.input.stem + '.npy'))]
    else:
        jobs = plan_jobs(args.input, args.output, '.npy', _find_audio, "audio files")
    codec = _load(args)
    n = _num_codebooks(args, codec)
    entries: list[dict[str, tp.Any]] = []

    def work(src: Path, dst: Path, progress: tp.Any) -> str:
        entry = tokenize_file(codec, src, dst, num_codebooks=n, options=options, mono=args.mono,
                              overwrite=args.overwrite, progress=progress)
        entries.append(entry)
        return f"{src} -> {dst}: codes [{entry['channels']}, {entry['codebooks']}, {entry['frames']}]"

    runner.run(jobs, work, 'tokenize')
    if entries:
        text = ''.join(json.dumps(e, sort_keys=True) + '\n' for e in entries)
        atomic_write_bytes(manifest, text.encode('utf-8'), overwrite=args.overwrite)
        runner.say(f"manifest: {manifest} ({len(entries)} file(s))")


def _format_info(info: dict[str, tp.Any]) -> str:
    present = '+'.join(map(str, info['present_per_branch']))
    totals = '+'.join(map(str, info['codebooks_per_branch']))
    rates = ', '.join(str(r) for r in info['branch_rates'])
    streams = info['channels']
    rows = [
        ('model', info['model_id']),
        ('sample rate', f"{info['sample_rate']} Hz (branches at {rates} Hz)"),
        ('channels', f"{streams} (one stream per channel)"),
        ('duration', f"{info['duration']:.3f} s ({info['length']} samples, {info['frames']} frames at "
                     f"{info['frame_rate']:g} Hz)"),
        ('codebooks', f"{present} present of {totals} per branch ({info['cardinality']} entries, "
                      f"{info['bits_per_code']} bits per code)"),
        ('bitrate', f"{_kbps(info['nominal_bitrate'])} nominal, {_kbps(info['file_bitrate'])} on disk"),
        ('size', f"{info['size']} bytes ({streams} x {info['header_size']} bytes of header, "
                 f"{info['payload_size']} bytes of codes)"),
    ]
    if info.get('model_check'):
        rows.append(('checkpoint', info['model_check']))
    return '\n'.join([info['path'], *(f"  {name:<12} {value}" for name, value in rows)])


def cmd_info(args: argparse.Namespace, runner: Runner) -> None:
    from .container import describe
    jobs: list[tuple[Path, Path]] = []
    for src in args.inputs:
        jobs += plan_jobs(src, None, bs.SUFFIX, _find_streams, f"{bs.SUFFIX} files")
    codec = None
    if args.checkpoint is not None:
        args.device = 'cpu'
        codec = _load(args)

    def work(src: Path, dst: Path, progress: tp.Any) -> str:
        info = describe(src, codec)
        text = json.dumps(info, sort_keys=True) if args.json else _format_info(info)
        print(text, flush=True)
        return ''

    runner.run(jobs, work, 'info', writes=False)


COMMANDS: dict[str, tp.Callable[[argparse.Namespace, Runner], None]] = {
    'compress': cmd_compress, 'decompress': cmd_decompress, 'tokenize': cmd_tokenize, 'info': cmd_info,
}


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 failures, 2 wrong command line)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse prints its own message; keep its status (0 for --help, 2 else)
        return int(exit_.code or 0)
    runner = Runner(args)
    try:
        COMMANDS[args.command](args, runner)
    except (UsageError, ValueError, OSError) as err:  # a missing input or checkpoint, an unknown device...
        if args.debug:
            raise
        print(f"error: {_describe_error(err)}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    return 1 if runner.failed else 0


__all__ = ['build_parser', 'main', 'plan_jobs']
