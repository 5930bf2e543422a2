"""Open a report in headless Chromium (Selenium and Debian's ``chromium-driver``) and read what
the page did: which charts drew, what the console logged, which requests left the file.

Used by the report tests and by ``tools/screenshot_reports.py``; not by the library itself.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

DRAWN = """
return Array.from(document.querySelectorAll('.plotly-graph-div')).map(function (d) {
  return {id: d.id, drawn: d.classList.contains('js-plotly-plot') &&
          d.querySelectorAll('.main-svg, canvas').length > 0 &&
          d.querySelectorAll('.trace, .parcoords, .bars, .hm, .heatmaplayer, path.point, image')
           .length > 0};
});
"""


@dataclass
class Rendered:
    """What the page showed: ``charts`` (div id → drew something), console ``errors`` and the
    ``requests`` URLs that were not the file itself or inline data."""

    charts: dict
    errors: list
    requests: list


def find_browser() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    return (browser, driver) if browser and driver else None


def open_report(
    path: str | Path,
    screenshot: str | Path | None = None,
    width: int = 1200,
    height: int = 1600,
    wait: float = 30.0,
) -> Rendered:
    """Load ``path`` headless, wait up to ``wait`` seconds for every chart to draw, return what
    rendered; optionally save a PNG screenshot of the first ``width`` × ``height`` pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    if found is None:
        raise FileNotFoundError("chromium and chromedriver are needed (apt-get install ...)")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        url = Path(path).resolve().as_uri()
        driver.get(url)
        charts = _wait_for_charts(driver, wait)
        if screenshot is not None:
            driver.save_screenshot(str(screenshot))
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        requests = _requests(driver.get_log("performance"), url)
    finally:
        driver.quit()
    return Rendered(charts, errors, requests)


def _wait_for_charts(driver, seconds: float = 30.0) -> dict:
    end = time.monotonic() + seconds
    while True:
        state = {c["id"]: c["drawn"] for c in driver.execute_script(DRAWN)}
        if (state and all(state.values())) or time.monotonic() > end:
            return state
        time.sleep(0.2)


def _requests(log: list, url: str) -> list:
    out = []
    for entry in log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        target = message["params"]["request"]["url"]
        if target != url and not target.startswith(("data:", "blob:", "about:")):
            out.append(target)
    return out
