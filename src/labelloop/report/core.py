"""The dataset-health report: one self-contained HTML page (no network, plots as PNG data URIs).

The page is a list of sections. Each section is built by a small function ``builder(ctx) ->
Section`` registered in :data:`SECTIONS`; a builder that has nothing to show returns a section
whose ``empty`` says why (and an error inside one builder never breaks the others), so sections
for other areas (labeling functions, learning curves, annotators, duplicates) appear as soon as
those modules and their data are there. Register more with :func:`register_section`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelloop.exceptions import LabelloopError


@dataclass
class Section:
    """One block of the page. ``empty`` (a sentence) replaces the body when there is nothing."""

    key: str
    title: str
    body: str = ""
    empty: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


SectionBuilder = Callable[["ReportContext"], Section]

#: (key, title, builder) in page order
SECTIONS: list[tuple[str, str, SectionBuilder]] = []


def register_section(key: str, title: str, *, before: str | None = None):
    """Decorator adding a section builder to the report (optionally before another key)."""

    def deco(fn: SectionBuilder) -> SectionBuilder:
        for i, (k, _, _) in enumerate(SECTIONS):
            if k == key:
                SECTIONS[i] = (key, title, fn)
                return fn
        entry = (key, title, fn)
        if before is not None:
            keys = [k for k, _, _ in SECTIONS]
            if before in keys:
                SECTIONS.insert(keys.index(before), entry)
                return fn
        SECTIONS.append(entry)
        return fn

    return deco


class ReportContext:
    """What the section builders share, each piece computed once and only when asked for."""

    def __init__(self, proj, *, top: int = 20, random_state: int = 0):
        self.proj = proj
        self.top = int(top)
        self.random_state = random_state

    @cached_property
    def data(self):
        from labelloop.quality.project import project_data

        return project_data(self.proj)

    @cached_property
    def errors(self) -> pd.DataFrame:
        from labelloop.quality.project import project_label_errors

        return project_label_errors(self.proj, data=self.data, queue=False, random_state=self.random_state)

    @cached_property
    def codes(self) -> np.ndarray:
        cls = {c: i for i, c in enumerate(self.data.classes)}
        return np.array([cls[v] for v in self.data.labelled["label"]], dtype=np.int64)

    @cached_property
    def model_probs(self) -> tuple[np.ndarray, str]:
        """Probabilities of a model for the labelled items (single-label): the latest stored
        predictions when they cover every labelled item, else 5-fold out-of-fold ones."""
        from labelloop.store import repo

        d = self.data
        with self.proj.session() as s:
            pred = repo.predictions_frame(s, self.proj.id)
        if len(pred):
            by_item = {int(i): p for i, p in zip(pred.item_id, pred.probabilities, strict=True)}
            ids = d.labelled.item_id.astype(int).tolist()
            if all(i in by_item and isinstance(by_item[i], dict) for i in ids):
                P = np.array([[float(by_item[i].get(str(c), 0.0)) for c in d.classes] for i in ids])
                if np.all(P.sum(axis=1) > 0):
                    return P / P.sum(axis=1, keepdims=True), f"stored predictions ({pred.model_version.iloc[0]})"
        from labelloop.quality import out_of_fold_probs

        if d.features is None:
            raise LabelloopError("no features to train a model on")
        P = out_of_fold_probs(d.features, self.codes, n_classes=len(d.classes), random_state=self.random_state)
        return P, f"5-fold out-of-fold logistic regression on {d.feature_source}"


# ------------------------------------------------------------------------------ rendering
def figure_png(fig) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def img(fig, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="{figure_png(fig)}">'


def table(df: pd.DataFrame, *, index: bool = False, classes: str = "") -> str:
    """An HTML table of a small DataFrame (cells escaped; floats with 3 decimals)."""
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = []
    for idx, rec in zip(df.index, df.itertuples(index=False), strict=True):
        vals = ([idx] if index else []) + list(rec)
        rows.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in vals) + "</tr>")
    return f'<table class="{classes}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


class Raw(str):
    """Pre-rendered HTML for a table cell (not escaped)."""


def _cell(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, float | np.floating):
        return "" if np.isnan(v) else f"{float(v):.3f}"
    if isinstance(v, list | tuple):
        return html.escape(", ".join(map(str, v)))
    return html.escape("" if v is None else str(v))


def matplotlib_agg():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1d2733;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c6cdd6;font-size:13px}
nav{padding:10px 32px;background:#fff;border-bottom:1px solid #e3e6ea;font-size:13px}
nav a{margin-right:14px;color:#2b6cb0;text-decoration:none}
main{max-width:1100px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:16px 20px;margin:16px 0}
section h2{margin:0 0 10px;font-size:18px}
.empty{color:#6b7785;font-style:italic}
.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{background:#f0f4f8;border-radius:6px;padding:8px 14px}
.kpi b{display:block;font-size:20px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}
th,td{border-bottom:1px solid #edf0f3;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f7f9}td.num{text-align:right}
img.plot{max-width:100%;height:auto;display:block;margin:8px 0}
img.thumb{width:48px;height:48px;object-fit:contain;image-rendering:pixelated;border:1px solid #ddd}
.note{color:#4a5562;font-size:13px}
.warn{color:#9c4221}
"""


def render(proj_name: str, sections: list[Section], *, subtitle: str = "") -> str:
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    parts = []
    for s in sections:
        body = s.body if s.empty is None else f'<p class="empty">{html.escape(s.empty)}</p>'
        state = "empty" if s.empty is not None else "filled"
        parts.append(f'<section id="{s.key}" data-state="{state}"><h2>{html.escape(s.title)}</h2>{body}</section>')
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{html.escape(proj_name)} · dataset health</title>"
        f"<style>{CSS}</style></head><body><header><h1>{html.escape(proj_name)}: dataset health</h1>"
        f"<p>labelloop report · {when}{(' · ' + html.escape(subtitle)) if subtitle else ''}</p></header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>"
    )


def build_sections(ctx: ReportContext, keys: list[str] | None = None) -> list[Section]:
    """Run every registered builder; a failing builder becomes an empty section saying why."""
    from labelloop.progress import progress
    from labelloop.report import sections as _builtin  # noqa: F401  (registers the builders)

    out = []
    chosen = [s for s in SECTIONS if keys is None or s[0] in keys]
    for key, title, fn in progress(chosen, desc="report", unit="section"):
        try:
            sec = fn(ctx)
        except LabelloopError as exc:
            sec = Section(key, title, empty=str(exc))
        except Exception as exc:  # one broken section must not cost the whole report
            sec = Section(key, title, empty=f"this section could not be built ({type(exc).__name__}: {exc})")
        sec.key, sec.title = key, title
        out.append(sec)
    return out


def build_report(proj, out: str | Path | None = None, *, top: int = 20, sections: list[str] | None = None,
                 random_state: int = 0) -> Path:
    """Write the dataset-health report of ``proj`` to ``out`` (default ``DIR/report.html``).

    >>> from labelloop.project import Project                          # doctest: +SKIP
    >>> build_report(Project.open("proj"))                             # doctest: +SKIP
    PosixPath('proj/report.html')
    """
    matplotlib_agg()
    ctx = ReportContext(proj, top=top, random_state=random_state)
    secs = build_sections(ctx, sections)
    path = Path(out) if out is not None else Path(proj.dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(proj.name, secs, subtitle=f"{proj.task}-label {proj.data_type} project"), encoding="utf-8")
    return path
