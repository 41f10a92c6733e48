"""Headless Chromium for the browser tests, driven through chromedriver's WebDriver (W3C) HTTP interface.

`find_browser` returns the paths of `chromium` and `chromedriver`, installing Debian's `chromium` and
`chromium-driver` packages with apt-get when they are missing and the tests run as root on a Debian-like system
(CI's case); otherwise it returns None and a reason. `Browser` is a minimal WebDriver client (open a page, run a
script, find and click elements, type text) with downloads going to a chosen folder.
"""
import json
import os
from pathlib import Path
import shutil
import socket
import subprocess
import time
import typing as tp
import urllib.error
import urllib.request

PACKAGES = ('chromium', 'chromium-driver')
ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'
"""Key of an element reference in WebDriver answers."""


def _executables() -> tuple[str | None, str | None]:
    browser = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    return browser, shutil.which('chromedriver')


def find_browser(install: bool = True) -> tuple[tuple[str, str] | None, str]:
    """`((chromium, chromedriver), '')`, installing them with apt-get if needed and possible, else
    `(None, reason)`."""
    browser, driver = _executables()
    if browser and driver:
        return (browser, driver), ''
    if not install:
        return None, "chromium or chromedriver is not installed"
    if os.name != 'posix' or os.geteuid() != 0 or not shutil.which('apt-get'):
        return None, ("chromium and chromedriver are not installed and cannot be installed here (installing needs "
                      f"root and apt-get): install the Debian packages {' '.join(PACKAGES)}")
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    for command in (['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', *PACKAGES]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            return None, f"`{' '.join(command)}` failed: {done.stderr.strip()[-500:]}"
    browser, driver = _executables()
    if not (browser and driver):
        return None, f"apt-get installed {' '.join(PACKAGES)} but chromium or chromedriver is still not found"
    return (browser, driver), ''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class WebDriverError(RuntimeError):
    pass


class Browser:
    """Headless Chromium (autoplay allowed, muted) under chromedriver; downloads go to `downloads`."""

    def __init__(self, chromium: str, chromedriver: str, downloads: Path, timeout: float = 60.0):
        self.port = _free_port()
        self.driver = subprocess.Popen([chromedriver, f'--port={self.port}'], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f'http://127.0.0.1:{self.port}'
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._request('GET', '/status').get('ready'):
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                self.driver.kill()
                raise WebDriverError(f"chromedriver did not start within {timeout:g} s")
            time.sleep(0.2)
        args = ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--mute-audio',
                '--autoplay-policy=no-user-gesture-required', '--allow-file-access-from-files',
                '--window-size=1400,1000']
        options = {'binary': chromium, 'args': args,
                   'prefs': {'download.default_directory': str(downloads), 'download.prompt_for_download': False}}
        try:
            answer = self._request('POST', '/session', {'capabilities': {'alwaysMatch': {
                'browserName': 'chrome', 'goog:chromeOptions': options}}})
        except Exception:
            self.driver.kill()
            raise
        self.session = f"/session/{answer['sessionId']}"
        self._request('POST', f'{self.session}/timeouts', {'script': int(timeout * 1000)})
        try:  # the preference above is enough for recent headless Chromium; older ones need this command
            self._request('POST', f'{self.session}/goog/cdp/execute', {
                'cmd': 'Browser.setDownloadBehavior', 'params': {'behavior': 'allow', 'downloadPath': str(downloads)}})
        except WebDriverError:
            pass

    def _request(self, method: str, path: str, body: tp.Any = None) -> tp.Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read() or b'{}').get('value')
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b'{}').get('value', {})
            raise WebDriverError(f"{method} {path}: {detail.get('error')}: {detail.get('message')}") from None

    def get(self, url: str) -> None:
        self._request('POST', f'{self.session}/url', {'url': url})

    def run(self, script: str, *args: tp.Any) -> tp.Any:
        """Run `script` (a function body; arguments in `arguments`) and return what it returns."""
        return self._request('POST', f'{self.session}/execute/sync', {'script': script, 'args': list(args)})

    def run_async(self, script: str, *args: tp.Any) -> tp.Any:
        """Run `script`, which calls its last argument (`arguments[arguments.length - 1]`) with the result."""
        return self._request('POST', f'{self.session}/execute/async', {'script': script, 'args': list(args)})

    def find(self, css: str) -> dict[str, str]:
        return self._request('POST', f'{self.session}/element', {'using': 'css selector', 'value': css})

    def click(self, css: str) -> None:
        self._request('POST', f"{self.session}/element/{self.find(css)[ELEMENT]}/click", {})

    def type(self, css: str, text: str) -> None:
        self._request('POST', f"{self.session}/element/{self.find(css)[ELEMENT]}/value", {'text': text})

    def wait(self, script: str, timeout: float = 30.0, *args: tp.Any) -> tp.Any:
        """Run `script` until it returns something truthy; that value, or WebDriverError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise WebDriverError(f"Timed out after {timeout:g} s waiting for: {script}")
            time.sleep(0.1)

    def close(self) -> None:
        try:
            self._request('DELETE', self.session)
        except (OSError, WebDriverError, AttributeError):
            pass
        self.driver.terminate()
        try:
            self.driver.wait(10)
        except subprocess.TimeoutExpired:
            self.driver.kill()
