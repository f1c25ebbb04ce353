"""The digest as Markdown (charts as SVG files beside it) and as one self-contained HTML page.

Both render the same :class:`~pintel.digest.text.Section` objects, so they say the same thing. The HTML embeds
each chart as an SVG data URI -- one file that ``GET /digest`` serves, a browser opens offline and a mail or
Slack attachment keeps whole -- and uses no script and no external asset.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from pintel.digest.text import Section

_INLINE = re.compile(r"\*\*(.+?)\*\*|`(.+?)`")

_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pintel digest">
<title>{{ title }}</title>
<style>
  body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328;
         max-width: 980px; margin: 24px auto; padding: 0 16px; background: #fff; }
  h1 { font-size: 24px; margin-bottom: 4px; }
  h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #d0d7de; }
  .meta { color: #57606a; font-size: 13px; } .empty { color: #57606a; font-style: italic; }
  figure { margin: 12px 0; } figure img { display: block; width: 100%; height: auto; border: 1px solid #eaeef2; }
  figcaption { color: #57606a; font-size: 12px; }
  table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
  th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; } th { background: #f6f8fa; }
  code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">Generated {{ generated }} UTC from {{ warehouse }}. Every number below was read from the warehouse
tables listed at the end and checked against them.</p>
{% for s in sections %}
<section id="{{ s.key }}" data-section="{{ s.key }}">
<h2>{{ s.title }}</h2>
{% for line in s.lines %}<p{% if s.empty %} class="empty"{% endif %}>{{ line | inline }}</p>
{% endfor %}
{% if s.chart %}<figure data-chart="{{ s.key }}"><img alt="{{ s.chart_alt }}" src="{{ s.chart | svg_uri }}">
<figcaption>{{ s.chart_alt }}</figcaption></figure>{% endif %}
{% if s.table %}<table><thead><tr>{% for h in s.table.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for row in s.table.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
</section>
{% endfor %}
<p class="meta">Read from: {{ tables | join(", ") }}.</p>
</body>
</html>
"""


def _inline(text: str) -> Markup:
    """Escape, then the two Markdown marks the templates use: **bold** and `code`."""

    def mark(match: re.Match[str]) -> str:
        return f"<strong>{match.group(1)}</strong>" if match.group(1) else f"<code>{match.group(2)}</code>"

    return Markup(_INLINE.sub(mark, html.escape(text, quote=False)))


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


_ENV = Environment(autoescape=True, keep_trailing_newline=True)
_ENV.filters.update(inline=_inline, svg_uri=_svg_uri)
_TEMPLATE = _ENV.from_string(_HTML)


def to_html(title: str, sections: list[Section], *, generated: str, warehouse: str, tables: list[str]) -> str:
    return _TEMPLATE.render(title=title, sections=sections, generated=generated, warehouse=warehouse, tables=tables)


def to_markdown(
    title: str, sections: list[Section], *, generated: str, tables: list[str], chart_dir: str | None
) -> str:
    """Markdown; charts are linked as ``<chart_dir>/<section>.svg`` (files :func:`write_charts` writes)."""
    out = [f"# {title}", "", f"_Generated {generated} UTC; every number was checked against the tables it came from._"]
    for s in sections:
        out += ["", f"## {s.title}", ""]
        out += [f"- {line}" for line in s.lines]
        if s.chart and chart_dir is not None:
            out += ["", f"![{s.chart_alt}]({chart_dir}/{s.key}.svg)"]
        if s.table:
            out += ["", "| " + " | ".join(s.table.headers) + " |", "|" + "---|" * len(s.table.headers)]
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in s.table.rows]
    out += ["", f"_Read from: {', '.join(tables)}._", ""]
    return "\n".join(out)


def write_charts(sections: list[Section], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for s in sections:
        if s.chart:
            path = folder / f"{s.key}.svg"
            path.write_text(s.chart)
            written.append(path)
    return written


def visible_text(page: str) -> str:
    """What a reader of the HTML sees (tags, styles and data URIs removed): checked like the Markdown."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)
