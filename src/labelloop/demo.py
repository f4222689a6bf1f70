"""The demo: a project built from real data that ships with a dependency.

scikit-learn's handwritten digits (1,797 8x8 images, 10 classes) are written out as PNG files,
one folder per class, and imported into an image project; optionally the Made With ML projects
(a path or URL to ``projects.json``, with ``tags.json`` beside it) go into a multi-label text
project. Each step prints where it is; re-running reuses what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from labelloop.progress import progress


def write_digits_pngs(root: Path, *, scale: int = 4) -> Path:
    """Write the digits data set as PNGs under ``root/<class>/<index>.png``; returns ``root``."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root.mkdir(parents=True, exist_ok=True)
    for i in progress(range(len(digits.images)), desc="write digit images", unit="img"):
        label = int(digits.target[i])
        out = root / str(label) / f"{i:04d}.png"
        if out.exists():
            continue
        out.parent.mkdir(exist_ok=True)
        px = (255 - digits.images[i] * (255 / 16)).astype(np.uint8)  # dark ink on white
        Image.fromarray(px, mode="L").resize((8 * scale, 8 * scale), Image.NEAREST).save(out)
    return root


def _open_or_init(directory: Path, **kw):
    from labelloop.project import CONFIG_NAME, Project

    if (directory / CONFIG_NAME).exists():
        return Project.open(directory)
    return Project.init(directory, **kw)


def run_demo(directory: str | Path, *, madewithml: str | None = None, say: Callable[[str], Any] = print) -> dict[str, Any]:
    """Build the demo projects under ``directory`` and return their stats and export paths."""
    from labelloop.io import export_labels, import_file
    from labelloop.stats import project_stats

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}

    say(f"[1] digits: writing scikit-learn's handwritten digits as PNG files under {directory / 'digits' / 'media'}")
    media = write_digits_pngs(directory / "digits" / "media")
    proj = _open_or_init(directory / "digits", name="digits", task="single", data="image")
    with proj:
        rep = import_file(proj, media, fmt="folder", source_name="import:folders")
        say(f"    imported {rep.rows} images ({rep.inserted} new) with their folder labels as votes of 'import:folders'")
        st = project_stats(proj)
        say(f"    stats: {st['items']} items, {st['votes']} votes, {len(st['labels'])} classes, imbalance ratio {st['imbalance_ratio']}")
        result["digits"] = {"stats": st, "project": str(proj.dir)}
    result["digits"].update(_loop_steps(directory, say))
    with proj:
        out = directory / "digits-labels.csv"
        n = export_labels(proj, out, votes=True)
        say(f"    exported {n} items with final labels, confidence and every vote to {out}")
        result["digits"]["export"] = str(out)

    if madewithml:
        src = madewithml
        tags = _sibling(src, "tags.json")
        say(f"[5] Made With ML: importing {src} with the taxonomy {tags}")
        proj = _open_or_init(directory / "madewithml", name="madewithml", task="multi", data="text")
        with proj:
            rep = import_file(proj, src, fmt="madewithml", taxonomy=tags)
            st = project_stats(proj)
            say(f"    {st['items']} projects, {st['votes']} tag votes, {len(st['labels'])} distinct tags (parents added through the taxonomy)")
            top = ", ".join(f"{k} {v}" for k, v in list(st["labels"].items())[:8])
            say(f"    most frequent tags: {top}")
            out = directory / "madewithml-labels.jsonl"
            n = export_labels(proj, out, votes=True)
            say(f"    exported {n} items with their votes to {out}")
            result["madewithml"] = {"stats": st, "export": str(out), "project": str(proj.dir)}
    return result


def _sibling(src: str, name: str) -> str:
    from labelloop.io.sources import is_url

    if is_url(src):
        return src.rsplit("/", 1)[0] + "/" + name
    return str(Path(src).parent / name)


def _loop_steps(directory: Path, say: Callable[[str], Any]) -> dict[str, Any]:
    """Aggregate the votes, simulate the labelling loop with a report, run one live round."""
    from sklearn.datasets import load_digits

    from labelloop.aggregate.store import aggregate_project
    from labelloop.loop.report import simulate_and_report

    out: dict[str, Any] = {}
    summary = aggregate_project(directory / "digits", method="mv")
    say(f"    aggregated {summary['n_votes']} votes into final labels ({summary['method']}), mean confidence {summary['mean_confidence']:.3f}")
    digits = load_digits()
    html = directory / "loop-report.html"
    say("[2] the loop: simulating annotators on the digits (random vs our default strategy, with pseudo-labels) ...")
    sim = simulate_and_report(digits.data, digits.target, html, budget=200, random_state=0, title="labelloop demo: digits")
    for run in sim["results"]:
        curve = run.get("curve") or []
        if curve:
            name = str(run.get("strategy")) + (" + pseudo-labels" if run.get("params", {}).get("semi") else "")
            say(f"    {name}: test accuracy {curve[-1][1]:.3f} with {curve[-1][0]} human labels (whole pool: {run['full_accuracy']:.3f})")
    plan = sim.get("plan") or {}
    if plan.get("summary"):
        say(f"    {plan['summary']}")
    say(f"    report with learning curves and cost forecast: {html}")
    out["loop_report"] = str(html)

    from labelloop.loop.project import run_loop_round
    from labelloop.project import Project
    from labelloop.report import build_report

    say("[3] one live round on the project: embed the images, train on the labels, predict, route, prioritise ...")
    with Project.open(directory / "digits") as proj:
        summary = run_loop_round(proj, batch=50)
        shown = {k: v for k, v in summary.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
        say("    " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in list(shown.items())[:8]))
        say("[4] dataset health: label errors, outliers, duplicates, annotators ...")
        report = build_report(proj, directory / "health-report.html")
    say(f"    dataset-health report: {report}")
    out["health_report"] = str(report)
    return out
