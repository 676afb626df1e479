"""Open atlas reports in headless Chromium: no horizontal overflow, no console errors, every figure
loads, a verdict sentence per section; screenshots go to the test artefacts.

Runs in CI (``.ci/run`` installs Debian's chromium); skipped locally when chromium is absent, but fails
under ``CI=true``. Screenshots are written under ``$TAMELAB_TEST_ARTIFACTS`` when set, else the test's
``tmp_path`` (never the working tree).
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tamelab.cli.main import main
from tamelab.runstore import write_run

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=8000",
]

PROBE = """
<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
const _ce = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); _ce(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  const doc = document.documentElement;
  const over = Array.from(document.querySelectorAll('.card, main, dl, figure, p'))
    .filter(e => e.scrollWidth > e.clientWidth + 1 && !e.closest('.tablewrap') && !e.closest('pre'))
    .map(e => (e.id || e.className || e.tagName) + ':' + e.scrollWidth + '>' + e.clientWidth);
  document.body.setAttribute('data-probe', JSON.stringify({
    images: imgs.length, broken: bad, errors: window.__errors,
    scroll: doc.scrollWidth, inner: window.innerWidth, overflowing: over,
    verdicts: document.querySelectorAll('section.section p.verdict').length,
    sections: document.querySelectorAll('section.section').length,
    overview: document.querySelectorAll('#overview dl.overview dt').length,
  }));
});
</script>
"""


def _need_chromium():
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed but CI=true: .ci/run must install Debian's chromium")
        pytest.skip("chromium not installed")


def _artefacts(tmp_path: Path) -> Path:
    d = os.environ.get("TAMELAB_TEST_ARTIFACTS")
    out = Path(d) if d else tmp_path / "artefacts"
    out.mkdir(parents=True, exist_ok=True)
    return out


def probe(report: Path, tmp_path: Path, width: int = 1280) -> dict:
    probed = tmp_path / f"probed-{width}.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    dom = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / f'profile-{width}'}",
            f"--window-size={width},900",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    m = re.search(r"data-probe=\"([^\"]*)\"", dom.stdout)
    assert m, f"probe did not run; stderr: {dom.stderr[-2000:]}"
    return json.loads(htmllib.unescape(m.group(1)))


def screenshot(
    report: Path,
    shot: Path,
    tmp_path: Path,
    width: int = 1280,
    height: int = 4000,
    dark: bool = False,
) -> Path:
    extra = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if dark else []
    r = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            *extra,
            f"--user-data-dir={tmp_path / ('shot-' + shot.stem)}",
            f"--window-size={width},{height}",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return shot


@pytest.fixture(scope="module")
def atlas_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "atlas"
    assert main(["atlas", "--out", str(out), "--quiet", "--epochs", "2", "--quick"]) == 0
    return out


def test_atlas_report_renders_in_headless_chromium(atlas_report, tmp_path):
    _need_chromium()
    doc = json.loads((atlas_report / "result.json").read_text())["result"]
    n_sections = len(doc["sections"])
    n_figures = sum(len(s["figures"]) for s in doc["sections"])
    for width in (1280, 390):
        p = probe(atlas_report / "report.html", tmp_path, width)
        assert p["errors"] == [], p
        assert p["images"] == n_figures >= 10 and p["broken"] == 0, p
        assert p["scroll"] <= p["inner"], f"horizontal overflow at width {width}: {p}"
        assert p["overflowing"] == [], p
        assert p["sections"] == n_sections and p["verdicts"] == n_sections, p
        assert p["overview"] >= 8, p
    art = _artefacts(tmp_path)
    screenshot(atlas_report / "report.html", art / "atlas-report.png", tmp_path)
    screenshot(atlas_report / "report.html", art / "atlas-report-dark.png", tmp_path, dark=True)
    screenshot(
        atlas_report / "report.html",
        art / "atlas-report-phone.png",
        tmp_path,
        width=390,
        height=3000,
    )


def test_huge_numbers_and_long_words_never_overflow(tmp_path):
    _need_chromium()
    huge = 3**170  # an 82-digit integer, as region-count bounds produce
    word = "x" * 300
    sections = [
        {
            "id": "s",
            "title": "Huge",
            "status": "ok",
            "verdict": f"A verdict with {word}.",
            "summary": {"bound": huge, "long": word, "tiny": 1.5e-300},
            "tables": [
                {
                    "columns": ["bound", "value", word],
                    "rows": [["serra", huge, word]] * 3,
                    "caption": "",
                }
            ],
            "paragraphs": [word],
            "figures": [],
            "seconds": 1.0,
        }
    ]
    write_run(
        tmp_path / "r",
        {"kind": "atlas", "sections": sections, "model": word, "seed": 0},
        command="atlas",
    )
    assert main(["report", str(tmp_path / "r")]) == 0
    html = (tmp_path / "r" / "report.html").read_text()
    shown = re.sub(r'<details class="raw">.*?</details>', "", html, flags=re.S)
    assert str(huge) not in shown  # shown in scientific notation (the exact value stays in the raw JSON fold)
    assert "× 10⁸¹" in html
    for width in (1280, 390):
        p = probe(tmp_path / "r" / "report.html", tmp_path, width)
        assert p["scroll"] <= p["inner"] and p["overflowing"] == [], p
    screenshot(
        tmp_path / "r" / "report.html",
        _artefacts(tmp_path) / "huge-numbers.png",
        tmp_path,
        height=1600,
    )
