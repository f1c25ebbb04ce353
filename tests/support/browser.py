"""Headless Chromium for the digest's render test: a screenshot, and where each chart landed on the page.

``chromium`` is Debian's package (``make install-browser`` installs it when missing). Chart boxes come from a
wrapper page that loads the digest in an iframe and writes, once everything has loaded, each chart image's
state (complete, natural size) and box as JSON into its own DOM, which ``--dump-dom`` prints. The screenshot
of the digest alone at the same width has the same layout, so the boxes locate the charts in its pixels.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files"]

_WRAPPER = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="{src}" style="border:0;width:{width}px;height:{height}px"></iframe>
<pre id="out">pending</pre>
<script>
document.getElementById("f").addEventListener("load", () => {{
  const doc = document.getElementById("f").contentDocument;
  const charts = [...doc.querySelectorAll("figure[data-chart] img")].map(img => ({{
    chart: img.closest("figure").dataset.chart, complete: img.complete,
    natural: [img.naturalWidth, img.naturalHeight], box: img.getBoundingClientRect().toJSON()}}));
  document.getElementById("out").textContent = JSON.stringify(
    {{charts: charts, height: doc.documentElement.scrollHeight}});
}});
</script></body></html>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def chart_boxes(page: Path, width: int, height: int) -> dict[str, Any]:
    """``{"charts": [{chart, complete, natural, box}], "height": page height}`` of ``page`` at ``width``."""
    wrapper = page.with_name(f".{page.stem}-probe.html")
    wrapper.write_text(_WRAPPER.format(src=page.name, width=width, height=height))
    done = _run([chromium(), *FLAGS, "--virtual-time-budget=15000", "--dump-dom", wrapper.as_uri()])
    match = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    if not match or match.group(1) == "pending":
        raise AssertionError(f"the probe page did not report (stderr: {done.stderr[-2000:]})")
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(url: str, out: Path, width: int, height: int) -> Path:
    done = _run([chromium(), *FLAGS, f"--window-size={width},{height}", f"--screenshot={out}", url])
    if not out.exists():
        raise AssertionError(f"chromium wrote no screenshot: {done.stderr[-2000:]}")
    return out
