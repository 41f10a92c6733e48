"""A local collecting server for a MUSHRA test: serves the pages folder over HTTP and stores the results each
listener's page sends (`POST /results`) as JSON files.

Run it on the machine the listeners use (or on a local network), then open `http://<host>:<port>/mushra.html`.
The page still offers its download button; the server is a convenience, not a requirement. Each accepted file is
checked (`results.check_results`) and written atomically as `<results>/<listener>_<time>.json`.
"""

import datetime
import functools
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import json
import logging
from pathlib import Path
import re

from ..utils import PathLike
from ..utils.atomic import atomic_write_bytes
from .results import check_results

logger = logging.getLogger(__name__)

MAX_BYTES = 10_000_000
"""Largest result file accepted."""


class CollectingHandler(SimpleHTTPRequestHandler):
    """Serves the pages folder; `POST /results` stores a result file in `results_dir`."""

    results_dir: Path = Path('.')

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        logger.info("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split('?')[0].rstrip('/').split('/')[-1] != 'results':
            self.send_error(HTTPStatus.NOT_FOUND, "POST results to /results")
            return
        length = int(self.headers.get('Content-Length') or 0)
        if not 0 < length <= MAX_BYTES:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Expected a JSON body of at most {MAX_BYTES} bytes")
            return
        try:
            data = check_results(json.loads(self.rfile.read(length)), 'the posted file')
        except (ValueError, UnicodeDecodeError) as error:
            self.send_error(HTTPStatus.BAD_REQUEST, str(error)[:200])
            return
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
        name = re.sub(r'[^A-Za-z0-9._-]+', '_', data['listener']).strip('._') or 'listener'
        path = self.results_dir / f"{name}_{stamp}.json"
        atomic_write_bytes(path, (json.dumps(data, indent=2) + '\n').encode())
        logger.info("Stored the results of %s in %s", data['listener'], path)
        body = json.dumps({'stored': path.name}).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(pages: PathLike, results: PathLike, host: str = '127.0.0.1', port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server (not started: call `serve_forever`) for the pages folder, storing results in `results`."""
    pages, results = Path(pages), Path(results)
    if not (pages / 'mushra.html').is_file():
        raise FileNotFoundError(f"{str(pages)!r} holds no mushra.html: give the folder written by the pages command.")
    results.mkdir(parents=True, exist_ok=True)
    handler = type('Handler', (CollectingHandler,), {'results_dir': results})
    return ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(pages)))
