"""A real browser for tests: Debian's headless chromium driven over the Chrome DevTools
protocol (a websocket, through websocket-client), clicking and typing as a person would."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
START_SECONDS = 30
# Nothing the browser does may reach the internet: no proxy, no background fetches.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--no-proxy-server", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
         "--window-size=1280,1000", "--remote-debugging-port=0", "--remote-allow-origins=*")


def find_chromium() -> str | None:
    """The path of an installed chromium, or None."""
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


class BrowserError(AssertionError):
    """The page did not do what the test waited for."""


class Browser:
    """One headless chromium with one page; ``close`` ends the process."""

    def __init__(self, executable: str, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ids = itertools.count(1)
        self.errors: list[str] = []  # console errors and exceptions the page reported
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                target = next(t for t in json.loads(answer.read()) if t["type"] == "page")
            self.socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=20, suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, announced: Path) -> int:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited with {self.process.returncode}")
            if announced.is_file() and announced.read_text().strip():
                return int(announced.read_text().split()[0])
            time.sleep(0.05)
        raise BrowserError(f"chromium announced no DevTools port within {START_SECONDS} s")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call one DevTools method and return its result (events met meanwhile are kept)."""
        call_id = next(self._ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._note(message)

    def _note(self, event: dict[str, Any]) -> None:
        params = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            self.errors.append(params["exceptionDetails"].get("exception", {}).get("description", "exception"))
        elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif event.get("method") == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"].get("text", ""))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Load ``url`` and wait until the document has loaded."""
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", f"{url} to load")

    def wait_for(self, expression: str, what: str, seconds: float = 20) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"waited {seconds} s for {what}")

    def text(self, selector: str = "body") -> str:
        """The visible text of the first element ``selector`` matches."""
        return self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''")

    def click(self, selector: str) -> None:
        """Press and release the mouse over the middle of the element, as a person clicks."""
        box = self.wait_for(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); if (!el) return null;"
                            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
                            " return r.width && r.height ? {x: r.x + r.width / 2, y: r.y + r.height / 2} : null; })()",
                            f"{selector} to be visible")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def press(self, key: str, code: int) -> None:
        """Press and release one key (``Tab`` 9, ``Enter`` 13) on whatever has the focus."""
        text = "\r" if key == "Enter" else ""
        self.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=key, windowsVirtualKeyCode=code, text=text)
        self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=key, windowsVirtualKeyCode=code)

    def type(self, text: str) -> None:
        """Type ``text`` into whatever has the focus."""
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page to ``path``."""
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        """Close the connection and end chromium."""
        socket = getattr(self, "socket", None)
        if socket is not None:
            socket.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

