"""Embedding commands: embed, index, similar, dedup."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


def register(app: typer.Typer) -> None:
    app.command("embed")(embed)
    app.command("index")(index)
    app.command("similar")(similar)
    app.command("dedup")(dedup)


def _write_json(obj, out: Path | None) -> None:
    import json

    if out is None:
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(obj, indent=1, ensure_ascii=False))


@handle_errors
def embed(
    directory: Path = typer.Argument(..., help="Project folder."),
    model: str = typer.Option("auto", "--model", "-m", help="minilm | tfidf | histogram | st:PATH | timm:ARCH:WEIGHTS | clip:ARCH:WEIGHTS | a plug-in name (auto: minilm for text, histogram for images; tfidf without torch)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Items per forward pass (default: by device and memory)."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:1, mps (default: a GPU when present). Neural models only."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
):
    """Embed every item of a project; only new or changed items are computed (on-disk cache).

    Vectors go to DIR/embeddings/MODEL/ and the store records the embedding set.

    Examples:

        labelloop embed proj

        labelloop embed proj --model tfidf
    """
    from labelloop.embed.project import embed_project
    from labelloop.project import Project

    kwargs = {"device": device} if device else {}
    with Project.open(directory) as proj:
        pv = embed_project(proj, model=model, batch_size=batch_size, **kwargs)
    summary = {"model": pv.model, "items": int(pv.item_ids.size), "dim": pv.dim, "path": str(pv.path)}
    if as_json:
        echo_json(summary)
    else:
        typer.echo(f"embedded {summary['items']} items with {pv.model} ({pv.dim}-d) -> {pv.path}")


@handle_errors
def index(
    directory: Path = typer.Argument(..., help="Project folder."),
    backend: str = typer.Option("auto", "--backend", "-b", help="auto | exact | faiss (= faiss-hnsw) | faiss-flat | faiss-ivf | faiss-hnsw | hnswlib | annoy."),
    model: str = typer.Option(None, "--model", "-m", help="Which embeddings (default: the latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
):
    """Build a vector index over the project's embeddings and save it under DIR/index/MODEL/.

    `auto` searches exactly below 50,000 items and uses an HNSW graph tuned to recall@10 >= 0.95
    above.

    Example: `labelloop index proj --backend hnswlib`
    """
    from labelloop.embed.project import index_project
    from labelloop.project import Project

    with Project.open(directory) as proj:
        ix, path, pv = index_project(proj, backend=backend, model=model)
    chosen = getattr(ix, "backend_", ix.backend)
    summary = {"backend": chosen, "model": pv.model, "items": len(ix), "path": str(path)}
    if hasattr(ix, "recall_estimate_"):
        summary["recall_estimate"] = round(float(ix.recall_estimate_), 4)
    if as_json:
        echo_json(summary)
    else:
        typer.echo(f"indexed {len(ix)} vectors of {pv.model} with {chosen} -> {path}")


@handle_errors
def similar(
    directory: Path = typer.Argument(..., help="Project folder."),
    seeds: Path = typer.Option(..., "--seeds", help="CSV with columns id,label: a few labelled items (external ids) per class."),
    top: int = typer.Option(50, "--top", "-k", help="Candidates per label."),
    out: Path = typer.Option(None, "--json", help="Write {candidates: {label: [[id, score], ...]}, dissimilar: [id, ...]} to this file."),
    model: str = typer.Option(None, "--model", "-m", help="Which embeddings (default: the latest)."),
    method: str = typer.Option("knn", "--method", help="knn | max | centroid (how seeds score an item)."),
    target_recall: float = typer.Option(0.95, "--target-recall", help="Share of seed-like items kept above the dissimilarity threshold."),
):
    """Rank candidates per label from a few seeds and flag items dissimilar to every seed.

    Candidates are queued first in the labelling queue (priority 1 + score).

    Example: `labelloop similar proj --seeds seeds.csv --top 50 --json candidates.json`
    """
    from labelloop.neighbors.project import similar_project
    from labelloop.project import Project

    if top < 1:
        from labelloop.exceptions import InputError

        raise InputError("--top must be at least 1")
    with Project.open(directory) as proj:
        res = similar_project(proj, seeds, top=top, model=model, method=method, target_recall=target_recall)
    payload = {"candidates": res["candidates"], "dissimilar": res["dissimilar"]}
    _write_json(payload, out)
    if out is None:
        echo_json(payload)
    else:
        counts = ", ".join(f"{k}: {len(v)}" for k, v in res["candidates"].items())
        typer.echo(f"candidates ({counts}); {len(res['dissimilar'])} dissimilar to all seeds (threshold {res['threshold']:.3f}) -> {out}")


def _image_threshold(value: str) -> float | str | None:
    from labelloop.exceptions import InputError

    v = value.strip().lower()
    if v in ("auto", "off"):
        return None if v == "off" else "auto"
    try:
        t = float(v)
    except ValueError:
        t = float("nan")
    if not 0.0 < t <= 1.0:
        raise InputError(f"--image-threshold must be auto, off or a correlation in (0, 1], got {value!r}")
    return t


@handle_errors
def dedup(
    directory: Path = typer.Argument(..., help="Project folder."),
    threshold: float = typer.Option(0.95, "--threshold", "-t", help="Cosine similarity at or above which two embedded items are near-duplicates."),
    out: Path = typer.Option(None, "--json", help="Write {groups: [[id, ...], ...]} to this file."),
    model: str = typer.Option(None, "--model", "-m", help="Which embeddings (default: the latest; without any, exact duplicates only)."),
    phash_distance: int = typer.Option(4, "--phash-distance", help="Image projects: differing bits of the 64-bit perceptual hash that make two images a candidate pair (verified like the others; unverified with --image-threshold off)."),
    image_threshold: str = typer.Option("auto", "--image-threshold", help="Image projects: aligned grey-level correlation (0-1] at or above which two images are copies of each other; 'auto' calibrates it on the project's own images; 'off' skips the verification and takes close perceptual hashes as they are."),
):
    """Group duplicate items: equal content, the same text up to case/spacing/punctuation,
    near-identical images (JPEG re-encoded, resized, cropped copies, verified after alignment),
    and embedding near-duplicates (when the project is embedded).

    Groups are also saved to DIR/dedup/groups.json.

    Example: `labelloop dedup proj --threshold 0.97 --json dups.json`
    """
    from labelloop.dedup.project import dedup_project
    from labelloop.project import Project

    if not -1.0 <= threshold <= 1.0:
        from labelloop.exceptions import InputError

        raise InputError("--threshold is a cosine similarity between -1 and 1")
    img_thr = _image_threshold(image_threshold)
    with Project.open(directory) as proj:
        res = dedup_project(proj, threshold=threshold, model=model, phash_distance=phash_distance, image_threshold=img_thr)
    payload = {"groups": res["groups"]}
    _write_json(payload, out)
    if out is None:
        echo_json(payload)
    else:
        s = res["summary"]
        typer.echo(f"{s['groups']} duplicate groups ({s['items_in_groups']} items) -> {out}")
