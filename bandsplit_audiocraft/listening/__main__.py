"""Command line of the listening pages and their analysis.

    python -m bandsplit_audiocraft.listening pages --checkpoint A.th [--checkpoint B.th ...] [--name NAME ...] \\
        --data <manifest | folder> --out <pages folder> [--segment S] [--max-clips N] [--loudness LUFS] [--rate HZ]
    python -m bandsplit_audiocraft.listening serve --pages <pages folder> --results <folder> [--port 8000]
    python -m bandsplit_audiocraft.listening analyse <result files or folders> --out <folder> [--baseline NAME]

`pages` takes the evaluation report's inputs (same options as `python -m bandsplit_audiocraft.evaluation.report`).
"""

import argparse
from collections.abc import Sequence
import logging
import shlex
import sys

from ..evaluation.report import add_input_arguments
from .analysis import MAX_FRACTION, REFERENCE_THRESHOLD, analyse, write_analysis
from .loudness import DEFAULT_TARGET_LUFS

PROG = 'python -m bandsplit_audiocraft.listening'


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Listening pages (demo and MUSHRA test) made from "
                                                            "exported checkpoints, and the analysis of the test.")
    commands = parser.add_subparsers(dest='command', required=True)
    pages = commands.add_parser(
        'pages', help="write the demo page and the MUSHRA page (one static folder that opens from disk)",
        epilog=f"Example: {PROG} pages --checkpoint bandsplit.th --checkpoint dac.th --data outputs/corpus/evaluate "
               f"--out listening --segment 5 --max-clips 8")
    add_input_arguments(pages, 'pages')
    pages.add_argument('--loudness', type=float, default=DEFAULT_TARGET_LUFS, metavar='LUFS',
                       help=f"loudness of every stimulus (default: {DEFAULT_TARGET_LUFS:g} LUFS)")
    pages.add_argument('--rate', type=int, action='append', metavar='HZ',
                       help="operating point with MUSHRA trials; repeat (default: every rate of a model output)")
    pages.add_argument('--title', default='Band-split codec listening test', help="title of the pages")
    pages.add_argument('--no-spectrograms', action='store_true', help="do not draw spectrograms")
    pages.add_argument('-q', '--quiet', action='store_true', help="no progress bar, only warnings")

    serve = commands.add_parser('serve', help="serve the pages and collect the results listeners send")
    serve.add_argument('--pages', required=True, metavar='FOLDER', help="pages folder written by `pages`")
    serve.add_argument('--results', required=True, metavar='FOLDER', help="folder the result files are stored in")
    serve.add_argument('--host', default='127.0.0.1', help="address to listen on (default: 127.0.0.1)")
    serve.add_argument('--port', type=int, default=8000, help="port (default: 8000)")

    ana = commands.add_parser('analyse', aliases=['analyze'], help="post-screen the listeners and summarise the "
                                                                   "ratings: analysis.md, analysis.json, boxplot.png")
    ana.add_argument('results', nargs='+', metavar='RESULTS', help="result files (.json) or folders of them")
    ana.add_argument('--out', required=True, metavar='FOLDER', help="analysis folder")
    ana.add_argument('--baseline', metavar='NAME', help="condition every other is compared with, pair by pair")
    ana.add_argument('--reference-threshold', type=float, default=REFERENCE_THRESHOLD, metavar='RATING',
                     help=f"post-screening: a hidden reference rated below this is a miss "
                          f"(default: {REFERENCE_THRESHOLD:g})")
    ana.add_argument('--max-fraction', type=float, default=MAX_FRACTION, metavar='F',
                     help=f"post-screening: exclude listeners who miss in more than this fraction of their trials "
                          f"(default: {MAX_FRACTION:g})")
    ana.add_argument('--bootstrap-resamples', type=int, default=9999, metavar='N',
                     help="bootstrap resamples of the intervals (default: 9999)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 on success)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if getattr(args, 'quiet', False) else logging.INFO,
                        format='%(levelname)s: %(message)s', stream=sys.stderr)
    try:
        if args.command == 'pages':
            from .pages import make_pages

            command = shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)])
            catalogue = make_pages(args.checkpoint, args.data, args.out, names=args.name, metrics=args.metrics,
                                   segment=args.segment, segment_mode=args.segment_mode, max_clips=args.max_clips,
                                   device=args.device, loudness=args.loudness, rates=args.rate, title=args.title,
                                   spectrograms=not args.no_spectrograms, progress=not args.quiet, command=command)
            print(f"Wrote {args.out}/index.html (demo) and {args.out}/mushra.html (MUSHRA test, "
                  f"{len(catalogue['trials'])} trials) for {len(catalogue['clips'])} clip(s), "
                  f"{len(catalogue['models'])} model(s).")
        elif args.command == 'serve':
            from .server import make_server

            server = make_server(args.pages, args.results, args.host, args.port)
            host, port = server.server_address[:2]
            print(f"Serving http://{host}:{port}/mushra.html; results go to {args.results}. Ctrl-C stops.",
                  flush=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
        else:
            from .results import read_results

            analysis = analyse(read_results(args.results), args.baseline, resamples=args.bootstrap_resamples,
                               threshold=args.reference_threshold, max_fraction=args.max_fraction)
            files = write_analysis(analysis, args.out)
            print(f"Wrote {files['markdown']}, {files['json']} and {files['boxplot']} ({len(analysis['kept'])} "
                  f"listener(s) kept, {len(analysis['excluded'])} excluded by post-screening).")
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == '__main__':
    sys.exit(main())
