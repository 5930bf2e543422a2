"""One HTML page of sections, plotly.js and every style and script inlined: it opens with no
network. A :class:`Page` collects sections (a heading, text, figures, tables) and writes the
file atomically."""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from caviar._files import usual_mode
from caviar.errors import InvalidArgument

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1180px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.8em;
  border-bottom: 1px solid #ddd; }
p.note { color: #555; font-size: .92em; }
table { border-collapse: collapse; font-size: .88em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 7px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } table.sortable th { cursor: pointer; }
td.text, th.text { text-align: left; }
tr.diverged td { background: #fde2e2; } tr.pruned td { background: #eef0f5; color: #666; }
tr.failed td { background: #fbe9c6; }
.scroll { max-height: 420px; overflow: auto; }
"""

# click a header to sort by it; numbers numerically, text alphabetically, blanks last
SORT = """
document.querySelectorAll('table.sortable').forEach(function (t) {
  t.querySelectorAll('th').forEach(function (th, i) {
    th.addEventListener('click', function () {
      var body = t.tBodies[0], rows = Array.from(body.rows);
      var up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
      function key(r) { var s = r.cells[i].textContent.trim(), n = parseFloat(s);
        return s === '' || s === '-' ? null : (isNaN(n) ? s : n); }
      rows.sort(function (a, b) { var x = key(a), y = key(b);
        if (x === null) return 1; if (y === null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


@dataclass
class Page:
    """A report: ``title``, then sections of HTML fragments in order."""

    title: str
    parts: list[str] = field(default_factory=list)
    charts: int = 0

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, note: bool = False) -> None:
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def figure(self, fig) -> None:
        """Add a plotly figure (its div and the call that draws it; plotly.js comes once)."""
        self.charts += 1
        self.parts.append(
            fig.to_html(
                full_html=False,
                include_plotlyjs=False,
                div_id=f"chart{self.charts}",
                config={"displaylogo": False, "responsive": True},
            )
        )

    def table(
        self, header: list[str], rows: list[list], row_classes=None, sortable=False, scroll=False
    ) -> None:
        """A table of ``rows`` (cells shown as given; floats to 4 significant digits)."""
        head = "".join(f"<th{_cls(c)}>{html.escape(str(c))}</th>" for c in header)
        body = []
        for i, row in enumerate(rows):
            cls = f' class="{row_classes[i]}"' if row_classes else ""
            cells = "".join(f"<td{_cls(v)}>{html.escape(shown(v))}</td>" for v in row)
            body.append(f"<tr{cls}>{cells}</tr>")
        kind = ' class="sortable"' if sortable else ""
        table = f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        self.parts.append(f'<div class="scroll">{table}</div>' if scroll else table)

    def render(self) -> str:
        from plotly.offline import get_plotlyjs

        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>"
            f"<h1>{html.escape(self.title)}</h1>{''.join(self.parts)}"
            f"<script>{SORT}</script></body></html>"
        )

    def write(self, out: str | Path) -> Path:
        """Write the page to ``out`` through a temporary file renamed into place."""
        out = Path(out)
        if out.is_dir():
            raise InvalidArgument(f"{out} is a folder; give the report's file name (.html).")
        text = self.render()
        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
        usual_mode(fd)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, out)
        except BaseException:
            os.unlink(tmp)
            raise
        return out


def plotly():
    """plotly's ``graph_objects`` and ``make_subplots``, or a one-line error on how to get it."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise InvalidArgument(
            "Reports need plotly: pip install 'caviar-nn[report]' (or pip install plotly)."
        ) from None
    return go, make_subplots


def shown(v) -> str:
    """A table cell's or hover text's value: ``-`` for None, floats to 4 digits, lists joined."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def _cls(v) -> str:
    return "" if v is None or isinstance(v, int | float) else ' class="text"'
