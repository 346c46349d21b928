"""Self-contained HTML reports: tables and matplotlib figures inlined as base64 PNG."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}.note{background:#fff8e1;padding:.6em 1em;border-left:4px solid #f0b400}
img{max-width:100%}code{background:#f3f3f3;padding:0 3px}
"""


def figure_html(fig: plt.Figure, alt: str) -> str:
    """The figure as an inline <img> (PNG, base64); the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


PERCENT_NAMES = frozenset({"return", "cagr", "pbo", "exposure", "participation", "probability_of_loss",
                           "hit_rate", "accuracy", "fraction", "share"})
PERCENT_SUFFIXES = ("_return", "_returns", "_drawdown", "_volatility", "_weight", "_rate", "_yield", "_cagr",
                    "_share", "_probability")


def is_percent(name: object) -> bool:
    """Whether a column or row named ``name`` holds fractions shown as percent (``annual_return``,
    ``max_drawdown``, ``win_rate``, ``pbo`` ...; not ``max_drawdown_duration`` or an amount
    ``..._per_share``)."""
    n = str(name).lower().strip("_")
    return (n in PERCENT_NAMES or n.endswith(PERCENT_SUFFIXES)) and not n.endswith("_per_share")


def plain_header(name: object) -> str:
    """``annual_return`` -> ``annual return``; a leading underscore (an internal name) goes."""
    return str(name).strip("_").replace("_", " ") if isinstance(name, str) else str(name)


def format_number(v: float, percent: bool = False, float_format: str | None = None) -> str:
    """One number for a report: percent with one decimal, else the caller's format, else integers
    and amounts of 1,000 or more with thousands separators and no decimals, down to 0.01 with two
    decimals, smaller ones with four (never scientific notation); NaN as "–", infinities as ∞."""
    if pd.isna(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if percent:
        return f"{v:.1%}"
    if float_format is not None:
        return float_format.format(v)
    a = abs(v)
    if a >= 1000 or (a < 1e15 and float(v).is_integer()):
        return f"{v:,.0f}"
    return f"{v:,.2f}" if a >= 0.01 else f"{v:.4f}"


def _dates(values: pd.DatetimeIndex) -> list[str]:
    naive = values.tz_convert(None) if values.tz is not None else values
    midnight = bool((naive == naive.normalize()).all())
    return [("–" if pd.isna(t) else t.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M")) for t in values]


def table_html(frame: pd.DataFrame, float_format: str | None = None) -> str:
    """A table for a report: plain headers, dates without times (when all are midnight), fractions
    named as such (:func:`is_percent`, by column or by row) in percent, other numbers by
    :func:`format_number` (``float_format`` overrides its default for the non-percent ones)."""
    out = pd.DataFrame(index=frame.index)
    rows_pct = [is_percent(i) if isinstance(i, str) else False for i in frame.index]
    for j, col in enumerate(frame.columns):
        s = frame.iloc[:, j]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[j] = _dates(pd.DatetimeIndex(s))
        elif pd.api.types.is_bool_dtype(s):
            out[j] = s.map(lambda v: "yes" if v else "no")
        elif pd.api.types.is_integer_dtype(s):
            out[j] = s.map(lambda v: f"{v:,}")
        elif pd.api.types.is_float_dtype(s):
            col_pct = is_percent(col)
            out[j] = [format_number(float(v), col_pct or rp, float_format) for v, rp in zip(s, rows_pct, strict=True)]
        else:
            out[j] = s.map(lambda v: "–" if v is None or (isinstance(v, float) and pd.isna(v)) else
                           format_number(v, False, float_format) if isinstance(v, float) else v)
    out.columns = [plain_header(c) for c in frame.columns]
    if isinstance(frame.index, pd.DatetimeIndex):
        out.index = pd.Index(_dates(frame.index), name=frame.index.name)
    elif isinstance(frame.index, pd.MultiIndex):
        out.index = frame.index.set_names([plain_header(n) if n else n for n in frame.index.names])
    else:
        out.index = pd.Index([plain_header(i) if isinstance(i, str) else i for i in frame.index],
                             name=plain_header(frame.index.name) if frame.index.name else None)
    return out.to_html(border=0, na_rep="–")


def write_report(path: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """Write an HTML page of (heading, inner HTML) sections."""
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{content}" for h, content in sections)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")
    return path
