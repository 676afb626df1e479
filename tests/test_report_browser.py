"""Open the atlas report in headless Chromium: screenshot, no console errors, every figure loaded.

Runs in CI (``.ci/run`` installs Debian's chromium); skipped locally when chromium is absent,
but fails under ``CI=true``.
"""

import os
import re
import shutil
import subprocess

import pytest

from tamelab.cli.main import main

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=8000"]

PROBE = """
<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
const _ce = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); _ce(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  document.body.setAttribute('data-probe', JSON.stringify({images: imgs.length, broken: bad, errors: window.__errors}));
});
</script>
"""


def _need_chromium():
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed but CI=true: .ci/run must install Debian's chromium")
        pytest.skip("chromium not installed")


def test_atlas_report_renders_in_headless_chromium(tmp_path):
    _need_chromium()
    out = tmp_path / "atlas"
    assert main(["atlas", "--out", str(out), "--quiet", "--epochs", "2", "--quick", "--sections", "training"]) == 0
    html = (out / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    prof = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={prof}", "--dump-dom", probed.as_uri()],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r"data-probe=\"([^\"]*)\"", dom.stdout)
    assert m, f"probe did not run; stderr: {dom.stderr[-2000:]}"
    import html as htmllib
    import json

    probe = json.loads(htmllib.unescape(m.group(1)))
    assert probe["images"] >= 2, probe
    assert probe["broken"] == 0, probe
    assert probe["errors"] == [], probe
    shot = tmp_path / "report.png"
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={prof}2", "--window-size=1280,2400",
                        f"--screenshot={shot}", (out / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("TAMELAB_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["TAMELAB_KEEP_SCREENSHOT"])
