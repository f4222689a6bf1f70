"""An HTML report of simulated loops: curves, money, extrapolation. Self-contained.

Plots are drawn with matplotlib and embedded as base64 PNG; the page loads nothing from the
network. :func:`simulate_and_report` is the one call a demo needs.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(results: list[dict[str, Any]], fit: dict | None) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        c = np.asarray(r["curve"], dtype=float)
        ax.plot(c[:, 0], c[:, 1], marker=".", label=r["strategy"] + (" + semi" if r["params"].get("semi") else ""))
    full = results[0]["full_accuracy"]
    ax.axhline(full, color="k", lw=0.8, ls="--", label=f"whole pool ({full:.3f})")
    ax.axhline(0.98 * full, color="k", lw=0.6, ls=":", label="98% of whole pool")
    if fit is not None:
        xs = np.linspace(max(1, fit["n"][0]), fit["n"][-1] * 2, 200)
        ys = fit["a"] - fit["b"] * xs ** (-fit["c"])
        ax.plot(xs, ys, color="grey", lw=1, label=f"fitted curve (ceiling {fit['a']:.3f})")
    ax.set_xlabel("human labels")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out.append(("Test accuracy vs human labels", _png(fig)))

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        rounds = r["rounds"]
        ax.plot([x["cost"] for x in rounds], [x["test_accuracy"] for x in rounds], marker=".", label=r["strategy"])
    ax.set_xlabel("money spent on answers")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    out.append(("Test accuracy vs money", _png(fig)))

    if any(x["answers_used"] != x["human_labels"] for r in results for x in r["rounds"]):
        fig, ax = plt.subplots(figsize=(7, 4))
        for r in results:
            rounds = r["rounds"]
            ax.plot([x["answers_used"] for x in rounds], [x["label_accuracy"] for x in rounds], marker=".", label=r["strategy"])
        ax.set_xlabel("answers used")
        ax.set_ylabel("accuracy of the labels collected")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        out.append(("Label accuracy vs answers (simulated annotators)", _png(fig)))
    return out


def write_report(results: list[dict[str, Any]], out_html, *, title: str = "labelloop simulation",
                 fit: dict | None = None, plan: dict | None = None, router: dict | None = None) -> Path:
    """Write the HTML report for simulation results (``SimulationResult.to_dict()`` each)."""
    out_html = Path(out_html)
    esc = html.escape
    rows = []
    for r in results:
        last = r["rounds"][-1]
        reach = r.get("labels_to_98")
        rows.append(
            f"<tr><td>{esc(str(r['strategy']))}{' + semi' if r['params'].get('semi') else ''}</td>"
            f"<td>{'not reached' if reach is None else reach}</td><td>{last['human_labels']}</td>"
            f"<td>{last['answers_used']}</td><td>{last['test_accuracy']:.3f}</td>"
            f"<td>{last['label_accuracy']:.3f}</td><td>{last['cost']:.2f}</td></tr>"
        )
    figs = "".join(
        f"<figure><img alt='{esc(t)}' src='data:image/png;base64,{b}'><figcaption>{esc(t)}</figcaption></figure>"
        for t, b in _plots(results, fit)
    )
    extra = ""
    if plan is not None:
        extra += f"<h2>Label more or improve the model?</h2><p>{esc(plan['advice'])}</p><pre>{esc(json.dumps(plan, indent=1, default=str))}</pre>"
    if router is not None:
        extra += f"<h2>Router</h2><p>{esc(router['guarantee'])}</p><pre>{esc(json.dumps(router, indent=1, default=str))}</pre>"
    p = results[0]["params"]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}figure{{margin:1em 0}}img{{max-width:100%}}
pre{{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}}</style></head><body>
<h1>{esc(title)}</h1>
<p>Pool {p['n_pool']} items, test {p['n_test']} items, {len(p['classes'])} classes; first batch {p['init']}
(chosen for diversity), then batches of {p['batch']}; whole-pool accuracy {results[0]['full_accuracy']:.3f}.</p>
<table><tr><th>strategy</th><th>labels to 98% of whole pool</th><th>human labels</th><th>answers</th>
<th>test accuracy</th><th>label accuracy</th><th>money</th></tr>{''.join(rows)}</table>
{figs}{extra}
<h2>Per-round data</h2><pre>{esc(json.dumps([{'strategy': r['strategy'], 'rounds': r['rounds']} for r in results], default=str))}</pre>
</body></html>"""
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(page, encoding="utf-8")
    return out_html


def simulate_and_report(
    X,
    y,
    out_html,
    *,
    strategies=("random", None),
    semi: bool = True,
    init: int = 10,
    batch: int = 10,
    budget: int = 200,
    test_size: float = 0.3,
    random_state: int = 0,
    model: Any = "logreg",
    annotators=None,
    target: float | None = None,
    title: str = "labelloop: simulated labelling loop",
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Simulate the loop with each strategy (``None`` = the default strategy; with ``semi``
    the default also runs with pseudo-labels), fit a learning curve to the default's run,
    price the target and write a self-contained HTML report to ``out_html``.

    Returns ``{"html": path, "results": [...], "fit": {...}, "plan": {...}}``.
    """
    from labelloop.loop.cost import CostModel
    from labelloop.loop.cost import plan as make_plan
    from labelloop.loop.curves import fit_learning_curve
    from labelloop.loop.simulate import CostRates, simulate

    rates = CostRates()
    runs = []
    kw = dict(init=init, batch=batch, budget=budget, test_size=test_size, random_state=random_state,
              model=model, annotators=annotators, rates=rates, show_progress=show_progress)
    for s in strategies:
        cs = "random" if s == "random" else "kmeans"
        runs.append(simulate(X, y, strategy=s, cold_start=cs, **kw).to_dict())
    if semi:
        runs.append(simulate(X, y, strategy=None, semi=True, **kw).to_dict())
    main = next((r for r in runs if r["strategy"] != "random"), runs[0])
    fit = plan = None
    c = np.asarray(main["curve"], dtype=float)
    if len(c) >= 4:
        lc = fit_learning_curve(c[:, 0], c[:, 1], n_boot=100, random_state=random_state)
        fit = lc.to_dict()
        tgt = target if target is not None else min(0.99, round(float(main["full_accuracy"]), 3))
        plan = make_plan(lc, int(c[-1, 0]), tgt, CostModel(annotator_hourly=rates.annotator_hourly,
                                                           seconds_per_label=rates.seconds_per_label))
    path = write_report(runs, out_html, title=title, fit=fit, plan=plan)
    return {"html": str(path), "results": runs, "fit": fit, "plan": plan}
