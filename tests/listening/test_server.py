"""Tests of the collecting server: it serves the pages and stores valid result files only."""
import json
import threading
import urllib.error
import urllib.request

import pytest

from bandsplit_audiocraft.listening.results import read_results
from bandsplit_audiocraft.listening.server import make_server
from tests.listening.test_analysis import result


@pytest.fixture
def server(tmp_path):
    pages = tmp_path / 'pages'
    pages.mkdir()
    (pages / 'mushra.html').write_text('<!DOCTYPE html><title>test</title>')
    instance = make_server(pages, tmp_path / 'results', port=0)
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    instance.results = tmp_path / 'results'
    yield instance
    instance.shutdown()
    instance.server_close()


def post(server, body: bytes) -> tuple[int, bytes]:
    host, port = server.server_address[:2]
    request = urllib.request.Request(f'http://{host}:{port}/results', data=body, method='POST',
                                     headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_server_serves_pages_and_stores_results(server):
    host, port = server.server_address[:2]
    with urllib.request.urlopen(f'http://{host}:{port}/mushra.html', timeout=30) as response:
        assert response.status == 200 and b'<title>test</title>' in response.read()
    status, body = post(server, json.dumps(result('A')).encode())
    assert status == 200
    stored = server.results / json.loads(body)['stored']
    assert stored.is_file() and stored.name.startswith('A_')
    assert read_results([server.results])[0]['listener'] == 'A'


def test_server_refuses_bad_results(server):
    bad = result('A')
    bad['trials'][0]['ratings']['codec'] = -5
    assert post(server, json.dumps(bad).encode())[0] == 400
    assert post(server, b'not json')[0] == 400
    assert list(server.results.iterdir()) == []


def test_server_needs_the_pages(tmp_path):
    with pytest.raises(FileNotFoundError, match='mushra.html'):
        make_server(tmp_path, tmp_path / 'results', port=0)
