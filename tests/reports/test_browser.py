"""The HTML report in headless Chromium: it renders, logs no console errors, and images load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install chromium")

# Test-only probe: reports carry no JavaScript, so a copy gets this script (and loses the CSP
# that would block it) to ask the browser whether every image and chart actually rendered.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => i.complete && i.naturalWidth > 0 ? "ok" : "bad");
  const svgs = [...document.querySelectorAll("svg")].map(s => s.getBBox().width > 0 ? "ok" : "bad");
  document.body.setAttribute("data-probe", imgs.join(",") + "|" + svgs.join(","));
});
</script>"""


def _fixture_html(name: str) -> str:
    # The golden files are the fixtures' HTML, kept byte-exact by test_reports.py::test_golden.
    return (GOLDEN / f"{name}.html").read_text(encoding="utf-8")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
    ]  # fmt: skip
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("fixture", ["report", "harden"])
def test_html_renders_in_chromium(fixture: str, tmp_path: Path) -> None:
    html = _fixture_html(fixture)
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    page.write_text(html, encoding="utf-8")
    run = _run(
        tmp_path, "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
        "--window-size=1280,2400", page.as_uri(),
    )  # fmt: skip
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert shot.exists(), run.stderr[-2000:]
    _assert_not_blank(shot)


def _assert_not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as img:
        assert img.size == (1280, 2400)
        gray = img.convert("L")
        colours = gray.getcolors(maxcolors=256) or []
        dark = sum(n for n, value in colours if value < 200)
    assert len(colours) > 20 and dark > 0.01 * 1280 * 2400


def test_images_and_charts_load_in_chromium(tmp_path: Path) -> None:
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", _fixture_html("harden"))
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _run(tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'data-probe="([^"]*)"', run.stdout)
    assert found, run.stderr[-2000:]
    images, charts = (part.split(",") for part in found.group(1).split("|"))
    assert images == ["ok"] * 4  # knn + decoder grids, original and hardened model
    assert charts and set(charts) == {"ok"}
