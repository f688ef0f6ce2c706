"""Headless Chromium for the rendering checks: Debian's `chromium`, found on PATH or at /usr/bin/chromium, and
Debian's `chromedriver` (package chromium-driver) for the tests that read what a page shows and requests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import missing_dependency
from tests.support.processes import stop_process_group

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def find_chromium() -> Path | None:
    """Return the chromium executable, or None when it is not installed."""
    found = shutil.which("chromium")
    if found:
        return Path(found)
    return DEBIAN_CHROMIUM if DEBIAN_CHROMIUM.is_file() else None


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The chromium executable; skips when it is absent, fails instead under CI=true."""
    path = find_chromium()
    if path is None:
        missing_dependency(
            "chromium is not installed (headless browser check); apt-get install chromium, "
            "or run tools/install-test-deps.sh as root"
        )
    return path


DEBIAN_CHROMEDRIVER = Path("/usr/bin/chromedriver")


def find_chromedriver() -> Path | None:
    """Return the chromedriver executable (Debian's chromium-driver), or None when it is not installed."""
    found = shutil.which("chromedriver")
    if found:
        return Path(found)
    return DEBIAN_CHROMEDRIVER if DEBIAN_CHROMEDRIVER.is_file() else None


@dataclass
class PageView:
    """What a person sees of a page: its visible text (innerText: what CSS hides is left out), the count of visible
    table rows, and every URL the page asked the network for (Chrome's performance log: Network.requestWillBeSent)."""

    text: str
    visible_rows: int
    requested: list[str]


VISIBLE_ROWS = "return Array.from(document.querySelectorAll('tr')).filter(r => r.offsetParent !== null).length"


class WebDriver:
    """The few W3C WebDriver calls the browser tests need, over HTTP to a chromedriver on a loopback port."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        """Send one WebDriver command and return its value (raise with chromedriver's message on an error)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read())["value"]
        except urllib.error.HTTPError as err:
            raise AssertionError(f"webdriver {method} {path}: {err.read()[:2000]!r}") from err

    @contextmanager
    def session(self, chromium: Path, profile: Path, size: str = "1400,900") -> Iterator[str]:
        """Yield the id of a fresh headless Chromium session (performance log on); end it afterwards."""
        caps = {
            "browserName": "chrome",
            "goog:loggingPrefs": {"performance": "ALL"},
            "goog:chromeOptions": {
                "binary": str(chromium),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    f"--window-size={size}",
                ],
            },
        }
        session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]
        try:
            yield session
        finally:
            self.call("DELETE", f"/session/{session}")

    def script(self, session: str, js: str) -> Any:
        """Return what js (a function body) returns in the session's page."""
        return self.call("POST", f"/session/{session}/execute/sync", {"script": js, "args": []})

    def requested(self, session: str) -> list[str]:
        """Return the URLs the session's pages asked the network for so far (Network.requestWillBeSent)."""
        out = []
        for entry in self.call("POST", f"/session/{session}/se/log", {"type": "performance"}):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                out.append(message["params"]["request"]["url"])
        return out

    def view(self, page_url: str, chromium: Path, profile: Path, size: str = "1400,900") -> PageView:
        """Open page_url in a fresh headless Chromium session and return what it shows and requested."""
        with self.session(chromium, profile, size) as session:
            self.call("POST", f"/session/{session}/url", {"url": page_url})
            text = self.script(session, "return document.body ? document.body.innerText : ''")
            rows = self.script(session, VISIBLE_ROWS)
            return PageView(text=text, visible_rows=int(rows), requested=self.requested(session))


@contextmanager
def running_chromedriver(driver: Path, log: Path) -> Iterator[WebDriver]:
    """Run chromedriver on a free loopback port; yield a client once it is ready; stop it afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(driver), f"--port={port}", f"--log-path={log}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = WebDriver(f"http://127.0.0.1:{port}")
    try:
        for _ in range(200):  # up to ~20 s for the driver to listen
            try:
                if client.call("GET", "/status").get("ready"):
                    break
            except (AssertionError, OSError):
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"chromedriver did not start on port {port}; see {log}")
        yield client
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="session")
def webdriver(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """A chromedriver on a free loopback port for the session; skips when absent, fails instead under CI=true."""
    driver = find_chromedriver()
    if driver is None:
        missing_dependency(
            "chromedriver is not installed (browser tests that read a page); apt-get install "
            "chromium-driver, or run tools/install-test-deps.sh as root"
        )
    with running_chromedriver(driver, tmp_path_factory.mktemp("chromedriver") / "chromedriver.log") as client:
        yield client
