"""The HTML report in a real headless Chromium, driven over the DevTools protocol.

Chromium is Debian's package, installed by scripts/browser-deps.sh (``make test`` runs it);
these tests never skip: without a browser they fail and say how to get one. Each test
opens a report from a file:// URL and checks what a reader's browser would do: no console
error, no request other than the file itself, no script run (a workload named
``<script>alert(1)</script>`` shows as text), the summary table and the plots in the DOM.
A full-page screenshot is written next to the report (and to $BENCH_ARTIFACTS if set).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websocket

from bench import analysis, results
from bench.report import html
from tests.unit.test_report import EXAMPLE, make_run

pytestmark = pytest.mark.e2e

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]
XSS = "<script>alert(1)</script>"


def chromium_path() -> str:
    found = os.environ.get("BENCH_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed: run scripts/browser-deps.sh (as root it "
                    "installs Debian's chromium) or set BENCH_CHROMIUM", pytrace=False)
    return found


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.log = open(profile.parent / "chromium.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([chromium_path(), *FLAGS, f"--user-data-dir={profile}",
                                      "about:blank"], stdout=self.log, stderr=self.log)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"chromium did not start: see {profile.parent / 'chromium.log'}")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        self.ws.settimeout(60)
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self, timeout: float) -> None:
        """One event; a JavaScript dialog (an injected alert) is recorded and dismissed so
        that it cannot hang the page."""
        self.ws.settimeout(max(0.1, timeout))
        try:
            event = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return
        self.events.append(event)
        if event.get("method") == "Page.javascriptDialogOpening":
            self.call("Page.handleJavaScriptDialog", {"accept": True}, session=True)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self._receive(deadline - time.monotonic())
        raise TimeoutError(f"no {method} within {timeout} s")

    def drain(self, seconds: float) -> None:
        """Collect events for a while (late console messages, requests)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._receive(min(0.2, deadline - time.monotonic()))

    def open(self, path: Path) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session=True)
        self.wait_for("Page.loadEventFired")
        self.drain(1.0)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True}, session=True)
        return result["result"].get("value")

    def viewport(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": min(height, 16000), "deviceScaleFactor": 1,
                   "mobile": False}, session=True)

    def screenshot(self, target: Path) -> Path:
        self.viewport(1440, 900)  # measure the page at the screenshot's width
        self.viewport(1440, int(self.evaluate("document.documentElement.scrollHeight")))
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        target.write_bytes(base64.b64decode(data))
        artifacts = os.environ.get("BENCH_ARTIFACTS")
        if artifacts:
            Path(artifacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(target, Path(artifacts) / target.name)
        return target

    def problems(self, allowed_url: str) -> dict[str, list[str]]:
        """Console errors, exceptions, dialogs and requests other than the page itself."""
        found: dict[str, list[str]] = {"console": [], "requests": [], "dialogs": []}
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                              "assert"):
                found["console"].append(json.dumps(params.get("args"))[:300])
            elif method == "Runtime.exceptionThrown":
                found["console"].append(json.dumps(params.get("exceptionDetails"))[:300])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found["console"].append(params["entry"].get("text", "")[:300])
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url != allowed_url:
                    found["requests"].append(url)
            elif method == "Page.javascriptDialogOpening":
                found["dialogs"].append(params.get("message", ""))
        return found

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    session = Browser(tmp_path_factory.mktemp("chromium") / "profile")
    yield session
    session.close()


DOM_FACTS = """(() => {
  const table = document.querySelector('#summary-table');
  return {
    rows: table ? table.querySelectorAll('tbody tr').length : 0,
    plots: document.querySelectorAll('svg.plot').length,
    marks: document.querySelectorAll('svg.plot circle, svg.plot polyline').length,
    cibars: document.querySelectorAll('#summary-table svg.cibar').length,
    scripts: document.scripts.length,
    images: document.images.length,
    headline: (document.querySelector('#headline') || {}).textContent || '',
    text: document.body.innerText,
    width: document.documentElement.scrollWidth,
  };
})()"""


def write_report(folder: Path) -> Path:
    loaded = results.load_run(folder)
    target = folder / "report.html"
    target.write_text(html.render(loaded, analysis.summarize(loaded)), encoding="utf-8")
    return target


def test_example_report_renders_cleanly_offline(browser, tmp_path):
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE, folder)
    report = write_report(folder)
    browser.open(report)
    assert browser.problems(report.resolve().as_uri()) == {"console": [], "requests": [],
                                                           "dialogs": []}
    dom = browser.evaluate(DOM_FACTS)
    summary = analysis.summarize(results.load_run(folder))
    compared = [r for r in summary.rows if not r.is_baseline]
    assert dom["rows"] == len(compared) and dom["cibars"] == len(compared)
    assert dom["plots"] >= 1 + 3 * len({r.workload for r in compared})
    assert dom["marks"] > 0
    assert dom["scripts"] == 0 and dom["images"] == 0
    assert "comparisons decided" in dom["headline"]
    for row in compared:
        assert row.workload in dom["text"] and row.comparison.verdict in dom["text"]
    shot = browser.screenshot(tmp_path / "example-report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_hostile_names_are_shown_as_text(browser, tmp_path):
    folder = make_run(tmp_path, workloads=(XSS, "cpu.ok"),
                      variants=("native", "docker[net=<img src=x onerror=alert(2)>]"),
                      blocks=6, fail_every=4,
                      error='<img src=x onerror="alert(3)"> & </td></table>')
    report = write_report(folder)
    browser.open(report)
    assert browser.problems(report.resolve().as_uri()) == {"console": [], "requests": [],
                                                           "dialogs": []}
    dom = browser.evaluate(DOM_FACTS)
    assert dom["scripts"] == 0 and dom["images"] == 0
    assert XSS in dom["text"]
    assert "docker[net=<img src=x onerror=alert(2)>]" in dom["text"]
    assert dom["rows"] == 2 and dom["plots"] >= 2
    browser.screenshot(tmp_path / "hostile-report.png")


def test_report_command_output_opens_in_the_browser(browser, tmp_path):
    """`bench report RUN` as a user runs it, then the file it wrote in the browser."""
    folder = make_run(tmp_path, workloads=("cpu.a",), variants=("native", "docker"),
                      blocks=8)
    proc = subprocess.run([sys.executable, "-m", "bench", "report", str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"report: {folder / 'report.html'}" in proc.stdout
    browser.open(folder / "report.html")
    problems = browser.problems((folder / "report.html").resolve().as_uri())
    assert problems == {"console": [], "requests": [], "dialogs": []}
    assert browser.evaluate(DOM_FACTS)["rows"] == 1


def test_the_checks_catch_scripts_requests_and_dialogs(browser, tmp_path):
    """Control: the same checks on a doctored report (CSP removed, a script and a loopback
    image added) report the console error, the request and the alert."""
    document = write_report(make_run(tmp_path)).read_text(encoding="utf-8")
    doctored = (document.replace('http-equiv="Content-Security-Policy"', 'name="no-csp"')
                .replace("</main>", '<script>console.error("boom"); alert(7)</script>'
                                    '<img src="http://127.0.0.1:9/x.png"></main>'))
    page = tmp_path / "doctored.html"
    page.write_text(doctored, encoding="utf-8")
    browser.open(page)
    problems = browser.problems(page.resolve().as_uri())
    assert problems["dialogs"] == ["7"]
    assert problems["requests"] == ["http://127.0.0.1:9/x.png"]
    assert any("boom" in line for line in problems["console"])


LADDER_FACTS = """(() => {
  const section = document.querySelector('#ladder');
  const banner = document.querySelector('#fallback');
  return {
    steps: section ? section.querySelectorAll('tr[data-verdict]').length : 0,
    cibars: section ? section.querySelectorAll('svg.cibar').length : 0,
    banner: banner ? banner.textContent : '',
    first: document.body.innerText.indexOf('daemonless OCI environment'),
    headline: document.body.innerText.indexOf(
      (document.querySelector('#headline') || {}).textContent || '@@none@@'),
    text: section ? section.innerText : '',
    scripts: document.scripts.length,
    images: document.images.length,
  };
})()"""


def test_ladder_and_fallback_banner_render_cleanly(browser, tmp_path):
    rungs = ("native", "oci", f"oci[userns=on,{XSS}]", "docker")
    folder = make_run(tmp_path, workloads=("app.redis-get", XSS), variants=rungs, blocks=8,
                      effects={f"oci[userns=on,{XSS}]": 1.05, "docker": 1.30})
    run = json.loads((folder / "run.json").read_text())
    run["plan"]["ladder"] = list(rungs)
    run["fallback"] = {"reason": "<img src=x onerror=alert(4)>", "mapping": {"docker": "oci"}}
    (folder / "run.json").write_text(json.dumps(run))
    report = write_report(folder)
    browser.open(report)
    assert browser.problems(report.resolve().as_uri()) == {"console": [], "requests": [],
                                                           "dialogs": []}
    dom = browser.evaluate(LADDER_FACTS)
    assert dom["scripts"] == 0 and dom["images"] == 0
    assert dom["steps"] == 2 * 3 and dom["cibars"] == 2 * 3
    assert "<img src=x onerror=alert(4)>" in dom["banner"]
    assert 0 <= dom["first"] < dom["headline"]
    assert XSS in dom["text"] and "+ published port on 127.0.0.1" in dom["text"]
    browser.screenshot(tmp_path / "ladder-report.png")
