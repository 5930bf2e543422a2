"""The reports in a real browser: headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium) opens each file and the rendered page says that every chart drew, that
nothing was logged as an error and that no request left the file.

``.ci/run`` installs the browser; in CI (``CI`` set) a missing browser fails the test, on a
developer's machine without one it is skipped.
"""

from __future__ import annotations

import os

import pytest

from caviar.report import write_report
from caviar.report.browser import find_browser, open_report


@pytest.fixture(scope="module")
def browser():
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if find_browser() is None:
        missing.append("chromium and chromedriver (apt-get install chromium chromium-driver)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize("what, charts", [("study", 7), ("model", 2)])
def test_every_chart_draws_with_no_error_and_no_request(browser, made, what, charts):
    out = made["tmp"] / f"{what}-browser.html"
    write_report(made[what], out)
    assert out.read_text().count('class="plotly-graph-div"') == charts
    shown = open_report(out, screenshot=made["tmp"] / f"{what}.png")
    assert len(shown.charts) == charts, shown.charts
    assert all(shown.charts.values()), shown.charts
    assert shown.errors == []
    assert shown.requests == []
    assert (made["tmp"] / f"{what}.png").stat().st_size > 10_000


def test_the_check_sees_a_broken_chart_and_a_request(browser, made, tmp_path):
    """The checks can fail: a page whose chart throws and that loads a remote script."""
    page = tmp_path / "bad.html"
    text = (made["tmp"] / "model-browser.html").read_text()
    text = text.replace("Plotly.newPlot(", "Plotly.newPlotBroken(", 1)
    text = text.replace("</body>", '<img src="http://127.0.0.1:9/x.png"></body>')
    page.write_text(text)
    shown = open_report(page, wait=3)
    assert not all(shown.charts.values())
    assert shown.errors
    assert any(r.startswith("http://127.0.0.1:9/") for r in shown.requests)
