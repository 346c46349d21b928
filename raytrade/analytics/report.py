"""Self-contained HTML reports: tables and matplotlib figures inlined as base64 PNG."""

from __future__ import annotations

import base64
import html
import io
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


def table_html(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    return frame.to_html(float_format=lambda x: float_format.format(x), border=0, na_rep="–")


def write_report(path: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """Write an HTML page of (heading, inner HTML) sections."""
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{content}" for h, content in sections)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")
    return path
