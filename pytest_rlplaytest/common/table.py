"""The one table renderer: aligned plain text (terminal, failure messages, the CLI), Markdown
(the run report, GitHub job summaries) and HTML (pytest-html extras), from the same header and rows.

Cells are text already; formatting numbers is the caller's business (see :func:`fmt_number`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["fmt_number", "render_html_table", "render_markdown_table", "render_text_table"]


def render_text_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, sep: str = "  ",
                      rule_sep: str | None = None, indent: str = "") -> list[str]:
    """Aligned columns: the header, a rule of dashes, then one line per row (trailing blanks
    stripped). ``sep`` joins cells; ``rule_sep`` joins the dashes (default: ``sep`` with its
    spaces turned into dashes where ``sep`` has a ``|``)."""
    grid = [[str(c) for c in header], *([str(c) for c in r] for r in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(header))]
    if rule_sep is None:
        rule_sep = sep.replace(" ", "-") if "|" in sep else sep
    lines = [indent + sep.join(c.ljust(w) for c, w in zip(grid[0], widths)).rstrip(),
             indent + rule_sep.join("-" * w for w in widths)]
    lines += [indent + sep.join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in grid[1:]]
    return lines


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_html_table(header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str = "") -> str:
    """An HTML ``<table>`` (cells escaped); ``css_class`` names it for styling and lookup."""
    from html import escape

    def row(cells: Sequence[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in cells) + "</tr>"

    cls = f' class="{escape(css_class)}"' if css_class else ""
    body = "".join(row(r, "td") for r in rows)
    return f"<table{cls}><thead>{row(header, 'th')}</thead><tbody>{body}</tbody></table>"


def fmt_number(value: float | int | None, digits: int = 4) -> str:
    """A number compactly (``digits`` significant digits): ``-`` for None, ``nan``/``inf`` as such."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"
