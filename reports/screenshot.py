"""Screenshot an HTML report with headless Chromium, to see that it renders and fits.

A report is only useful if a browser shows it: this takes a PNG of the page with Debian's
``chromium`` (``apt-get install -y chromium``) in a throw-away profile, with networking
features off, and checks that the picture is not blank — charts decoded, styles applied —
and that at the window's width (1280 px) no table is wider than its card, so nothing is cut
off or needs scrolling sideways.

    python -m reports.screenshot runs/NAME/report.html [--out shot.png] [--height 4000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Overflow",
    "ScreenshotError",
    "Verdict",
    "check_png",
    "find_chromium",
    "main",
    "overflowing_tables",
    "screenshot",
]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ScreenshotError(RuntimeError):
    """The browser is missing or failed; the message says which and how to fix it."""


def find_chromium() -> str | None:
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    html_path: str | Path,
    png_path: str | Path | None = None,
    *,
    width: int = 1280,
    height: int = 4000,
    timeout: float = 90.0,
    browser: str | None = None,
) -> Path:
    """Render ``html_path`` at ``width``×``height`` CSS pixels into ``png_path``."""
    page = Path(html_path).resolve()
    if not page.is_file():
        raise ScreenshotError(f"{page}: no such file")
    target = Path(png_path) if png_path else page.with_suffix(".png")
    target = target.resolve()
    executable = browser or find_chromium()
    if executable is None:
        raise ScreenshotError(
            "no Chromium found; install it with: apt-get update && apt-get install -y chromium"
        )
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="mfalab-chromium-") as profile:
        command = [
            *_chromium_command(executable, profile, width, height),
            f"--screenshot={target}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"{executable} did not finish within {timeout:g} s") from None
    if done.returncode != 0 or not target.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ScreenshotError(
            f"{executable} exited with {done.returncode} and no screenshot: " + " | ".join(tail)
        )
    return target


def _chromium_command(executable: str, profile: str, width: int, height: int) -> list[str]:
    return [
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ]


@dataclass(frozen=True, slots=True)
class Overflow:
    """A table wider than the card (``<section>``) it sits in, in CSS pixels."""

    section: str
    caption: str
    table_width: float
    card_width: float


# Appended to a copy of the page: measures every table against the content box of its card
# (the <section>) and the page against the window, then writes the verdict into the DOM,
# which ``--dump-dom`` prints. A table inside a scrolling box still counts as overflowing:
# the reader would have to scroll to see its last columns — at 1280 px nothing should need it.
_PROBE = """<script>(function () {
  const overflowing = [];
  const tables = document.querySelectorAll("table");
  tables.forEach(function (table) {
    const card = table.closest("section") || document.body;
    const style = getComputedStyle(card);
    const box = card.getBoundingClientRect();
    const inner = box.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
      - parseFloat(style.borderLeftWidth) - parseFloat(style.borderRightWidth);
    const width = table.getBoundingClientRect().width;
    if (width > inner + 0.5) {
      const heading = card.querySelector("h2");
      const wrapper = table.closest(".scroll") || table;
      const caption = wrapper.previousElementSibling;
      overflowing.push({section: heading ? heading.textContent : "",
        caption: caption ? caption.textContent : "", table_width: width, card_width: inner});
    }
  });
  const verdict = {window: window.innerWidth, page: document.documentElement.scrollWidth,
    tables: tables.length, overflowing: overflowing};
  const out = document.createElement("pre");
  out.id = "mfalab-overflow";
  out.textContent = JSON.stringify(verdict);
  document.body.appendChild(out);
})();</script>"""


def overflowing_tables(
    html_path: str | Path,
    *,
    width: int = 1280,
    timeout: float = 90.0,
    browser: str | None = None,
) -> tuple[int, list[Overflow]]:
    """Lay the page out in headless Chromium ``width`` CSS pixels wide and return the number of
    tables and those wider than their card (or a page wider than the window, as one entry)."""
    page = Path(html_path).resolve()
    if not page.is_file():
        raise ScreenshotError(f"{page}: no such file")
    executable = browser or find_chromium()
    if executable is None:
        raise ScreenshotError(
            "no Chromium found; install it with: apt-get update && apt-get install -y chromium"
        )
    with tempfile.TemporaryDirectory(prefix="mfalab-chromium-") as profile:
        probe = Path(profile) / "probe.html"
        text = page.read_text(encoding="utf-8")
        probe.write_text(text.replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
        command = [*_chromium_command(executable, profile, width, 2000), "--dump-dom"]
        try:
            done = subprocess.run(
                [*command, probe.as_uri()],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"{executable} did not finish within {timeout:g} s") from None
    marker = '<pre id="mfalab-overflow">'
    if done.returncode != 0 or marker not in done.stdout:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ScreenshotError(
            f"{executable} exited with {done.returncode} without a layout: " + " | ".join(tail)
        )
    raw = done.stdout.split(marker, 1)[1].split("</pre>", 1)[0]
    verdict = json.loads(
        raw.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    found = [Overflow(**item) for item in verdict["overflowing"]]
    if verdict["page"] > verdict["window"]:
        found.append(Overflow("(page)", "(whole page)", verdict["page"], verdict["window"]))
    return int(verdict["tables"]), found


@dataclass(frozen=True, slots=True)
class Verdict:
    width: int
    height: int
    colours: int
    inked: float  # share of pixels that differ from the page background

    @property
    def ok(self) -> bool:
        return self.width >= 400 and self.height >= 300 and self.colours >= 64 and self.inked > 0.05


def check_png(path: str | Path) -> Verdict:
    """Measure a screenshot: a blank or error page has few colours and little ink."""
    from matplotlib import image

    pixels = image.imread(str(path))
    rgb = np.round(pixels[..., :3] * 255).astype(np.uint8)
    flat = rgb.reshape(-1, 3)
    codes = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    values, counts = np.unique(codes, return_counts=True)
    background = values[np.argmax(counts)]
    return Verdict(
        width=int(rgb.shape[1]),
        height=int(rgb.shape[0]),
        colours=int(values.size),
        inked=float((codes != background).mean()),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.screenshot", description=__doc__)
    parser.add_argument("html", help="the report.html to render")
    parser.add_argument("--out", help="PNG to write (default: beside the HTML)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)
    try:
        shot = screenshot(args.html, args.out, width=args.width, height=args.height)
    except ScreenshotError as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 1
    verdict = check_png(shot)
    print(
        f"{shot}: {verdict.width}x{verdict.height}, {verdict.colours} colours, "
        f"{verdict.inked:.0%} inked — {'ok' if verdict.ok else 'looks blank'}"
    )
    try:
        tables, overflowing = overflowing_tables(args.html, width=args.width)
    except ScreenshotError as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 1
    for item in overflowing:
        print(
            f"too wide at {args.width} px: {item.section} / {item.caption}: "
            f"{item.table_width:.0f} px in a {item.card_width:.0f} px card"
        )
    print(f"{tables} tables, {len(overflowing)} wider than their card at {args.width} px")
    return 0 if verdict.ok and not overflowing else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
