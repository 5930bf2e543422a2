"""Screenshots of HTML reports in headless Chromium, for the README (docs/img/*.png).

    python tools/screenshot_reports.py REPORT.html OUT.png [REPORT.html OUT.png ...]

The same browser and checks as the report tests: it refuses to write a screenshot of a page
whose charts did not all draw, that logged an error or that sent a request.
"""

from __future__ import annotations

import sys

from caviar.report.browser import open_report


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for page, png in zip(argv[::2], argv[1::2], strict=True):
        shown = open_report(page, screenshot=png, width=1100, height=1400)
        if not all(shown.charts.values()) or shown.errors or shown.requests:
            print(f"{page}: {shown}", file=sys.stderr)
            return 1
        print(f"{png}: {len(shown.charts)} charts drawn, no error, no request")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
