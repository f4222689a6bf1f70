"""Embeddings and vector indexes: four benchmarks, one command.

    python benchmarks/embeddings.py [--parts index,embed,seeds,dedup] [--sizes 100000] [--repeats 3]

1. index: recall@10 and queries/s of each backend through labelloop's interface vs the same
   library called directly with the same parameters, on clustered 384-d vectors.
2. embed: texts/s of labelloop's MiniLM embedder vs sentence-transformers ``encode`` on the
   2,029 Made With ML projects, and the cost of a fully cached re-run.
3. seeds: precision@50 of seed candidates per class on Made With ML dataset.csv (5 random
   seeds per class), vs random, median over 5 draws.
4. dedup: planted exact and near duplicates (text edits on Made With ML, crops/resizes/JPEG on
   digit images): precision and recall of the groups; time of the grouping at 1M items.

Results go to benchmarks/results/embeddings.json (merged per part) and a table is printed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LABELLOOP_QUIET", "1")
DATA = Path(os.environ.get("LABELLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "results" / "embeddings.json"
WORK = ROOT / "benchmarks" / "out" / "embeddings"


def _now():
    return time.perf_counter()


def machine() -> dict:
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        gpu = None
    return {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(), "python": platform.python_version(), "gpu": gpu,
            "load_avg_at_start": os.getloadavg()[0]}


def save(part: str, result: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    allres = json.loads(OUT.read_text()) if OUT.exists() else {}
    if part == "index" and isinstance(allres.get("index"), list):
        # a re-run of some backends replaces only their rows
        fresh = {(r["n"], r["backend"]) for r in result}
        result = [r for r in allres["index"] if (r["n"], r["backend"]) not in fresh] + result
    if part == "dedup" and isinstance(allres.get("dedup"), dict):
        # a re-run of some dedup parts replaces only their keys and their quality rows
        old = allres["dedup"]
        fresh = {r["data"].split()[0] for r in result.get("quality", [])}
        rows = [r for r in old.get("quality", []) if r["data"].split()[0] not in fresh] + result.get("quality", [])
        result = {**old, **result, "quality": rows}
    allres[part] = result
    allres["machine"] = machine()
    OUT.write_text(json.dumps(allres, indent=1, default=float))


def table(rows: list[dict], cols: list[str]) -> str:
    w = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    line = " | ".join(c.ljust(w[c]) for c in cols)
    out = [line, "-|-".join("-" * w[c] for c in cols)]
    out += [" | ".join(_fmt(r.get(c)).ljust(w[c]) for c in cols) for r in rows]
    return "\n".join(out)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


# ------------------------------------------------------------------ 1. index
def clustered(n: int, d: int = 384, centers: int = 2000, nq: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d)).astype(np.float32)
    lab = rng.integers(0, centers, n + nq)
    x = c[lab] + 0.6 * rng.normal(size=(n + nq, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x[:n]), np.ascontiguousarray(x[n:])


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([np.intersect1d(a, b).size / b.size for a, b in zip(got, truth, strict=True)]))


def direct_runners(x, q, k, params):
    """The libraries called directly, same parameters as labelloop's defaults."""
    import annoy
    import faiss
    import hnswlib

    n, d = x.shape
    ids = np.arange(n, dtype=np.int64)
    out = {}

    def flat():
        ix = faiss.IndexIDMap2(faiss.IndexFlat(d, faiss.METRIC_INNER_PRODUCT))
        ix.add_with_ids(x, ids)
        return lambda: ix.search(q, k)[1]

    def ivf():
        nlist = int(max(1, min(int(4 * np.sqrt(n)), n // 39)))
        quant = faiss.IndexFlat(d, faiss.METRIC_INNER_PRODUCT)
        ix = faiss.IndexIVFFlat(quant, d, nlist, faiss.METRIC_INNER_PRODUCT)
        ix.train(x if n <= 100_000 else x[np.random.default_rng(0).choice(n, 100_000, replace=False)])
        ix.add_with_ids(x, ids)
        ix.nprobe = 16
        keep = (ix, quant)  # the quantizer must outlive the index
        return lambda: keep[0].search(q, k)[1]

    def fhnsw():
        h = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        h.hnsw.efConstruction = 80
        h.hnsw.efSearch = 64
        ix = faiss.IndexIDMap2(h)
        ix.add_with_ids(x, ids)
        return lambda: ix.search(q, k)[1]

    def hlib():
        ix = hnswlib.Index(space="ip", dim=d)
        ix.init_index(max_elements=n, ef_construction=80, M=32, random_seed=100)
        ix.set_num_threads(len(os.sched_getaffinity(0)))
        ix.add_items(x, ids)
        ix.set_ef(64)
        return lambda: ix.knn_query(q, k=k)[0].astype(np.int64)

    def ann():
        ix = annoy.AnnoyIndex(d, "angular")
        ix.set_seed(42)
        for i in range(n):
            ix.add_item(i, x[i])
        ix.build(50, n_jobs=-1)
        return lambda: np.array([ix.get_nns_by_vector(v, k, search_k=-1) for v in q], dtype=np.int64)

    out = {"faiss-flat": flat, "faiss-ivf": ivf, "faiss-hnsw": fhnsw, "hnswlib": hlib, "annoy": ann}
    return {b: out[b] for b in params}


def bench_index(sizes, repeats, backends, n_queries=1000):
    from labelloop.index import ExactIndex, get_index

    results = []
    for n in sizes:
        x, q = clustered(n, nq=n_queries)
        k = 10
        t = _now()
        truth, _ = ExactIndex().build(x).search(q, k)
        exact_s = _now() - t
        print(f"\n# index: n={n:,} x 384, {q.shape[0]} queries, k=10 (exact ground truth {exact_s:.1f}s)", flush=True)
        direct = direct_runners(x, q, k, [b for b in backends if b not in ("exact", "auto")])
        for b in backends:
            row = {"n": n, "backend": b}
            t = _now()
            ours = get_index(b).build(x)
            row["build_ours_s"] = _now() - t
            if b == "auto":
                row["auto_choice"] = ours.backend_
                row["auto_recall_estimate"] = ours.recall_estimate_
            run_ours = lambda ours=ours, q=q, k=k: ours.search(q, k)[0]  # noqa: E731
            run_direct = None
            if b in direct:
                t = _now()
                run_direct = direct[b]()
                row["build_direct_s"] = _now() - t
            t_o, t_d = [], []
            for rep in range(repeats):
                # interleaved, the order alternating each repeat, so load changes and warm caches
                # hit both sides alike; the overhead is the median of the paired ratios
                for side in ((0, 1) if rep % 2 == 0 else (1, 0)):
                    if side == 0:
                        t = _now()
                        got = run_ours()
                        t_o.append(_now() - t)
                    elif run_direct is not None:
                        t = _now()
                        got_d = run_direct()
                        t_d.append(_now() - t)
            row["recall_ours"] = recall(got, truth)
            row["qps_ours"] = q.shape[0] / statistics.median(t_o)
            if run_direct is not None:
                row["recall_direct"] = recall(got_d, truth)
                row["qps_direct"] = q.shape[0] / statistics.median(t_d)
                row["overhead_search"] = statistics.median(o / d for o, d in zip(t_o, t_d, strict=True)) - 1
                row["repeats"] = repeats
                row["load_avg"] = os.getloadavg()[0]
                row["overhead_build"] = row["build_ours_s"] / row["build_direct_s"] - 1
            print(table([row], [c for c in ("backend", "build_ours_s", "build_direct_s", "recall_ours", "recall_direct", "qps_ours", "qps_direct", "overhead_search", "auto_choice") if c in row]), flush=True)
            results.append(row)
            del ours, run_ours, run_direct
        # auto vs the best backend that meets recall 0.95
        earlier = json.loads(OUT.read_text()).get("index", []) if OUT.exists() else []
        ran = {r["backend"] for r in results if r["n"] == n}
        pool = results + [r for r in earlier if r["n"] == n and r["backend"] not in ran]  # rows from an earlier run of the other backends
        good = [r for r in pool if r["n"] == n and r["backend"] not in ("auto",) and r["recall_ours"] >= 0.95]
        auto = next((r for r in results if r["n"] == n and r["backend"] == "auto"), None)
        if good and auto is not None:
            best = max(good, key=lambda r: r["qps_ours"])
            auto["best_backend_at_recall_0.95"] = best["backend"]
            auto["auto_speed_vs_best"] = auto["qps_ours"] / best["qps_ours"]
    return results


# ------------------------------------------------------------------ 2. embed
def mwml_projects() -> list[str]:
    rows = json.loads((DATA / "madewithml" / "projects.json").read_text())
    return [f"{r.get('title', '')}. {r.get('description', '') or ''}" for r in rows]


def bench_embed(repeats):
    import shutil

    from sentence_transformers import SentenceTransformer

    from labelloop.embed import cached_encode, get_embedder
    from labelloop.embed.text import minilm_path

    texts = mwml_projects()
    print(f"\n# embed: {len(texts)} Made With ML texts, MiniLM-L6 on CPU", flush=True)
    ours = get_embedder("minilm")
    st = SentenceTransformer(str(minilm_path()), device="cpu")
    ours.encode(texts[:64])
    st.encode(texts[:64])
    bs = 64
    t_o, t_s = [], []
    for _ in range(repeats):
        t = _now()
        a = ours.encode(texts, batch_size=bs)
        t_o.append(_now() - t)
        t = _now()
        b = st.encode(texts, batch_size=bs, normalize_embeddings=True)
        t_s.append(_now() - t)
    cos = (a * b).sum(1)
    cache = WORK / "cache-bench"
    shutil.rmtree(cache, ignore_errors=True)
    t = _now()
    cached_encode(ours, texts, cache=cache, batch_size=bs)
    first = _now() - t
    t_c = []
    for _ in range(repeats):
        t = _now()
        again = cached_encode(ours, texts, cache=cache, batch_size=bs)
        t_c.append(_now() - t)
    res = {
        "n_texts": len(texts), "batch_size": bs, "device": ours.device, "precision": ours.precision, "backend": ours.backend,
        "texts_per_s_ours": len(texts) / statistics.median(t_o), "texts_per_s_st": len(texts) / statistics.median(t_s),
        "ratio_ours_vs_st": statistics.median(t_s) / statistics.median(t_o),
        "runs_ours_s": t_o, "runs_st_s": t_s, "min_cosine_vs_st": float(cos.min()),
        "first_cached_run_s": first, "cached_rerun_s": statistics.median(t_c), "cached_rerun_fraction": statistics.median(t_c) / first,
        "cached_equal": bool(np.allclose(again, a, atol=1e-5)),
    }
    print(table([res], ["n_texts", "texts_per_s_ours", "texts_per_s_st", "ratio_ours_vs_st", "min_cosine_vs_st", "first_cached_run_s", "cached_rerun_s", "cached_rerun_fraction"]), flush=True)
    return res


# ------------------------------------------------------------------ 3. seeds
def mwml_dataset():
    import pandas as pd

    df = pd.read_csv(DATA / "madewithml" / "dataset.csv")
    return (df.title + ". " + df.description.fillna("")).tolist(), df.tag.to_numpy()


def bench_seeds(draws=5, seeds_per_class=5, top=50):
    from labelloop.embed import cached_encode, get_embedder
    from labelloop.neighbors import SeedCandidates

    texts, y = mwml_dataset()
    classes = np.unique(y)
    rows = []
    for model in ("minilm", "tfidf"):
        emb = get_embedder(model) if model == "minilm" else get_embedder("tfidf", n_components=256)
        v = cached_encode(emb, texts, cache=WORK / "cache")
        for method in ("knn", "max", "centroid"):
            p_seed, p_rand, per_class = [], [], []
            for draw in range(draws):
                rng = np.random.default_rng(draw)
                sidx = np.concatenate([rng.choice(np.flatnonzero(y == c), seeds_per_class, replace=False) for c in classes])
                out = SeedCandidates(method=method).fit(v[sidx], y[sidx]).candidates(v, np.arange(len(y)), top=top, exclude=sidx.tolist())
                pc = {c: float(np.mean([y[i] == c for i, _ in out["candidates"][c]])) if out["candidates"][c] else 0.0 for c in classes}
                per_class.append(pc)
                p_seed.append(float(np.mean(list(pc.values()))))
                pool = np.setdiff1d(np.arange(len(y)), sidx)
                p_rand.append(float(np.mean([np.mean(y[rng.choice(pool, top, replace=False)] == c) for c in classes])))
            row = {"model": model, "method": method, "P@50_seeds": statistics.median(p_seed), "P@50_random": statistics.median(p_rand),
                   "per_class_median": {c: statistics.median(d[c] for d in per_class) for c in classes}}
            rows.append(row)
    print(f"\n# seeds: Made With ML dataset.csv ({len(y)} items, {len(classes)} classes), {seeds_per_class} seeds/class, median of {draws} draws", flush=True)
    print(table(rows, ["model", "method", "P@50_seeds", "P@50_random"]), flush=True)
    return rows


# ------------------------------------------------------------------ 4. dedup
def _pairs_of(groups) -> set:
    s = set()
    for g in groups:
        g = sorted(g)
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                s.add((g[i], g[j]))
    return s


def _pr(found_groups, true_groups):
    f, t = _pairs_of(found_groups), _pairs_of(true_groups)
    tp = len(f & t)
    return (tp / len(f) if f else 1.0), (tp / len(t) if t else 1.0)


def text_edit(t: str, kind: int, rng) -> str:
    if kind == 0:
        return t.upper()
    if kind == 1:
        return "  ".join(t.split()) + " "
    if kind == 2:
        return t.replace(",", "").replace(".", " .").replace(":", " -")
    words = t.split()
    if len(words) > 3:
        i = int(rng.integers(1, len(words)))
        words[i] = {"a": "the", "the": "a", "and": "&"}.get(words[i].lower(), words[i] + "s")
    return " ".join(words)


def bench_dedup(n_million=1_000_000, parts=("text", "images", "scale")):
    # each part draws from its own seeded generator, so any part can be re-run alone
    rng = np.random.default_rng(0)
    results = {}
    rows = []
    texts = mwml_projects()
    base_n = len(texts)
    if "text" in parts:
        _dedup_text(texts, rng, rows, results)
    if "images" in parts:
        _dedup_images(rows, results)
    rng = np.random.default_rng(2)
    print("\n# dedup: planted duplicates (pairwise precision/recall of the groups)", flush=True)
    print(table(rows, ["data", "threshold", "precision", "recall", "groups_found", "true_groups", "seconds"]), flush=True)
    results["quality"] = rows
    if "scale" in parts:
        results["scale_1M"] = _dedup_scale(texts[:base_n], n_million, rng)
    return results


def _dedup_text(texts, rng, rows, results):
    from labelloop.dedup import find_duplicates
    from labelloop.embed import cached_encode, get_embedder

    # text: the 2,029 projects, 300 planted copies (case, spacing, punctuation, one word changed)
    base_n = len(texts)
    truth_of = list(range(base_n))
    kinds = {}
    for i, src in enumerate(rng.choice(base_n, 300, replace=False).tolist()):
        texts.append(text_edit(texts[src], i % 4, rng))
        truth_of.append(src)
        kinds[len(texts) - 1] = i % 4
    # duplicates already in the data count as true duplicates (same normalised text)
    v = cached_encode(get_embedder("minilm"), texts, cache=WORK / "cache")
    base_groups = find_duplicates(texts=texts[:base_n]).groups
    root = np.array(truth_of)
    for g in base_groups:
        root[np.isin(root, g)] = g[0]
    true_groups = [np.flatnonzero(root == r).tolist() for r in np.unique(root) if (root == r).sum() > 1]
    for thr in (0.9, 0.95, 0.97):
        t = _now()
        dup = find_duplicates(texts=texts, vectors=v, threshold=thr)
        el = _now() - t
        p, r = _pr(dup.groups, true_groups)
        rows.append({"data": "text", "threshold": thr, "precision": p, "recall": r, "groups_found": len(dup.groups), "true_groups": len(true_groups), "seconds": el})
    # recall per edit kind at 0.95
    dup = find_duplicates(texts=texts, vectors=v, threshold=0.95)
    lab = dup.labels
    per_kind = {}
    for kind in range(4):
        members = [c for c, kk in kinds.items() if kk == kind]
        per_kind[["case", "spacing", "punctuation", "one word"][kind]] = float(np.mean([lab[c] >= 0 and lab[c] == lab[truth_of[c]] for c in members]))
    results["text_recall_by_edit_at_0.95"] = per_kind


def _dedup_images(rows, results):
    from PIL import Image
    from sklearn.datasets import load_digits

    from labelloop.dedup import find_duplicates
    from labelloop.dedup.images import calibrate_threshold
    from labelloop.embed import cached_encode, get_embedder

    # images: 1,797 digits upscaled to 64x64; 300 planted copies (JPEG q=50, 90% crop, resize)
    rng = np.random.default_rng(1)
    digits = load_digits()
    imgs = [np.asarray(Image.fromarray((im * 255 / 16).astype(np.uint8)).resize((64, 64), Image.BICUBIC).convert("RGB")) for im in digits.images]
    n_img = len(imgs)
    truth_img = list(range(n_img))
    for i, src in enumerate(rng.choice(n_img, 300, replace=False).tolist()):
        im = Image.fromarray(imgs[src])
        if i % 3 == 0:
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=50)
            out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        elif i % 3 == 1:
            out = im.crop((3, 3, 61, 61)).resize((64, 64), Image.BILINEAR)
        else:
            out = im.resize((40, 40), Image.BILINEAR)
        imgs.append(np.asarray(out))
        truth_img.append(src)
    root = np.array(truth_img)
    img_true = [np.flatnonzero(root == r).tolist() for r in np.unique(root) if (root == r).sum() > 1]
    edits = ["jpeg q50", "crop 90%", "resize 64->40"]

    def by_edit(lab):
        return {name: float(np.mean([lab[n_img + i] >= 0 and lab[n_img + i] == lab[truth_img[n_img + i]] for i in range(300) if i % 3 == kind]))
                for kind, name in enumerate(edits)}

    # the default: candidates (thumbnail index + perceptual hashes) verified after alignment
    thr = calibrate_threshold(imgs)  # what threshold="auto" picks (it sees no truth)
    t = _now()
    dup = find_duplicates(images=imgs)
    el = _now() - t
    p, r = _pr(dup.groups, img_true)
    rows.append({"data": "digits aligned (auto, default)", "threshold": round(thr, 4), "precision": p, "recall": r, "groups_found": len(dup.groups), "true_groups": len(img_true), "seconds": el})
    results["image_auto_threshold"] = thr
    results["image_recall_by_edit_default"] = by_edit(dup.labels)
    results["image_pairs_by_evidence"] = {k: int(v.shape[0]) for k, v in dup.pairs.items()}
    # the stages timed apart, for a projection to 1M images (the candidate search there would
    # run on an ANN index instead of exact search, and the verification grows with the pairs)
    from labelloop.dedup.images import aligned_similarity, candidate_pairs, image_thumbnails

    t = _now()
    th = image_thumbnails(imgs)
    t_thumb = _now() - t
    t = _now()
    cand = candidate_pairs(th)
    t_cand = _now() - t
    t = _now()
    aligned_similarity(th, cand, refine_above=thr - 0.1, refine_below=thr)
    t_ver = _now() - t
    n_all = len(imgs)
    stages = {"images": n_all, "thumbnails_per_s": n_all / t_thumb, "candidate_items_per_s": n_all / t_cand,
              "candidate_pairs": int(cand.shape[0]), "candidate_pairs_per_item": cand.shape[0] / n_all,
              "verified_pairs_per_s": cand.shape[0] / t_ver}
    stages["projected_1M_s"] = 1e6 / stages["thumbnails_per_s"] + 1e6 / stages["candidate_items_per_s"] + 1e6 * stages["candidate_pairs_per_item"] / stages["verified_pairs_per_s"]
    results["image_stages"] = stages
    print(json.dumps(stages), flush=True)
    for fixed in (0.99, 0.995):
        d = find_duplicates(images=imgs, image_threshold=fixed)
        p, r = _pr(d.groups, img_true)
        rows.append({"data": "digits aligned", "threshold": fixed, "precision": p, "recall": r, "groups_found": len(d.groups), "true_groups": len(img_true)})
    for dist in (4, 6, 8):
        t = _now()
        dup = find_duplicates(images=imgs, phash_distance=dist, image_threshold=None)
        el = _now() - t
        p, r = _pr(dup.groups, img_true)
        rows.append({"data": "digits phash", "threshold": dist, "precision": p, "recall": r, "groups_found": len(dup.groups), "true_groups": len(img_true), "seconds": el})
    hv = cached_encode(get_embedder("histogram"), imgs, cache=WORK / "cache")
    results["image_recall_by_edit_at_0.95"] = by_edit(find_duplicates(vectors=hv, threshold=0.95).labels)
    for thr in (0.95, 0.97):
        dup = find_duplicates(vectors=hv, threshold=thr)
        p, r = _pr(dup.groups, img_true)
        rows.append({"data": "digits histogram+HOG", "threshold": thr, "precision": p, "recall": r, "groups_found": len(dup.groups), "true_groups": len(img_true)})


def _dedup_scale(words_list, n_million, rng):
    from labelloop.dedup import (
        find_duplicates,
        groups_from_pairs,
        hamming_pairs,
        near_duplicate_pairs,
    )

    # scale: 1M items. Exact/normalised hashing of 1M texts, Hamming search over 1M 64-bit
    # perceptual hashes, and union-find over the pairs; embedding near-duplicates at 1M with IVF.
    scale = {}
    n = n_million
    base_n = len(words_list)
    words = np.array(words_list)
    big = [words[i % base_n] + f" #{i // base_n}" for i in range(n)]
    t = _now()
    find_duplicates(texts=big)
    scale["text_hash_1M_s"] = _now() - t
    h = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    h[n // 2 : n // 2 + 10_000] = h[:10_000] ^ np.uint64(0b101)
    t = _now()
    pairs = hamming_pairs(h, 4)
    scale["phash_hamming_1M_s"] = _now() - t
    scale["phash_pairs_found"] = int(pairs.shape[0])
    t = _now()
    groups_from_pairs(n, pairs)
    scale["union_find_1M_s"] = _now() - t
    x, _ = clustered(n, d=384, centers=20000, nq=1, seed=1)
    x[-5000:] = x[:5000] + 0.01 * rng.normal(size=(5000, 384)).astype(np.float32)
    from labelloop.index import get_index

    t = _now()
    ix = get_index("faiss-ivf", nprobe=4).build(x)
    p = near_duplicate_pairs(x, threshold=0.95, k=5, index=ix)
    scale["embedding_ivf_1M_x384_s"] = _now() - t
    scale["embedding_pairs_found"] = int(p.shape[0])
    print(json.dumps(scale, indent=1), flush=True)
    return scale


def markdown() -> str:
    """BENCHMARKS.md tables from the saved results."""
    res = json.loads(OUT.read_text())
    out = []
    if "index" in res:
        out.append("| n | backend | recall@10 ours | recall@10 direct | queries/s ours | queries/s direct | search overhead | build s ours | build s direct |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in sorted(res["index"], key=lambda r: (r["n"], r["backend"])):
            name = r["backend"] + (f" (chose {r['auto_choice']})" if r.get("auto_choice") else "")
            ov = f"{100 * r['overhead_search']:+.0f}%" if "overhead_search" in r else "-"
            out.append(f"| {r['n']:,} | {name} | {r['recall_ours']:.3f} | {_fmt(r.get('recall_direct'))} | {r['qps_ours']:,.0f} | "
                       + (f"{r['qps_direct']:,.0f}" if "qps_direct" in r else "-") + f" | {ov} | {r['build_ours_s']:.1f} | "
                       + (f"{r['build_direct_s']:.1f}" if "build_direct_s" in r else "-") + " |")
        for r in res["index"]:
            if "auto_speed_vs_best" in r:
                out.append(f"\n`auto` at {r['n']:,}: recall@10 {r['recall_ours']:.3f}, {100 * r['auto_speed_vs_best']:.0f}% of the queries/s of the fastest backend that reaches recall 0.95 ({r['best_backend_at_recall_0.95']}).")
    if "embed" in res:
        e = res["embed"]
        out.append("")
        out.append("| texts | ours texts/s | sentence-transformers texts/s | ratio | min cosine vs ST | first cached run s | cached re-run s | re-run / first |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        out.append(f"| {e['n_texts']:,} | {e['texts_per_s_ours']:.1f} | {e['texts_per_s_st']:.1f} | {e['ratio_ours_vs_st']:.2f}x | {e['min_cosine_vs_st']:.6f} | "
                   f"{e['first_cached_run_s']:.1f} | {e['cached_rerun_s']:.3f} | {100 * e['cached_rerun_fraction']:.2f}% |")
    if "seeds" in res:
        out.append("")
        out.append("| embedder | method | P@50 seeds (median of 5 draws) | P@50 random |")
        out.append("| --- | --- | --- | --- |")
        for r in res["seeds"]:
            out.append(f"| {r['model']} | {r['method']} | {r['P@50_seeds']:.3f} | {r['P@50_random']:.3f} |")
    if "dedup" in res:
        d = res["dedup"]
        out.append("")
        out.append("| data | threshold | precision | recall | groups found | true groups |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for r in d["quality"]:
            out.append(f"| {r['data']} | {r['threshold']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['groups_found']} | {r['true_groups']} |")
        if "text_recall_by_edit_at_0.95" in d:
            out.append("\nText recall by edit at 0.95: " + ", ".join(f"{k} {v:.2f}" for k, v in d["text_recall_by_edit_at_0.95"].items()) + ".")
        if "image_recall_by_edit_default" in d:
            out.append("\nDigit image recall by edit (aligned, auto threshold): " + ", ".join(f"{k} {v:.2f}" for k, v in d["image_recall_by_edit_default"].items()) + ".")
        if "image_recall_by_edit_at_0.95" in d:
            out.append("\nDigit image recall by edit (histogram+HOG at 0.95): " + ", ".join(f"{k} {v:.2f}" for k, v in d["image_recall_by_edit_at_0.95"].items()) + ".")
        if "image_stages" in d:
            g = d["image_stages"]
            out.append(f"\nImage stages on the {g['images']:,} digit images: thumbnails {g['thumbnails_per_s']:,.0f} images/s, candidate search "
                       f"{g['candidate_items_per_s']:,.0f} images/s ({g['candidate_pairs_per_item']:.1f} candidate pairs per image), verification "
                       f"{g['verified_pairs_per_s']:,.0f} pairs/s; projected to 1M images at that rate: {g['projected_1M_s'] / 3600:.1f} h.")
        if "scale_1M" in d:
            c = d["scale_1M"]
            out.append(f"\n1M items on this machine: normalised-text hashing {c['text_hash_1M_s']:.1f} s; Hamming search over 1M 64-bit "
                       f"perceptual hashes (<= 4 bits) {c['phash_hamming_1M_s']:.1f} s ({c['phash_pairs_found']:,} of 10,000 planted pairs); "
                       f"union-find over the pairs {c['union_find_1M_s']:.2f} s; embedding near-duplicates of 1M x 384 vectors through "
                       f"faiss-IVF (build + 1M queries) {c['embedding_ivf_1M_x384_s']:.0f} s ({c['embedding_pairs_found']:,} of 5,000 planted pairs).")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="index,embed,seeds,dedup")
    ap.add_argument("--sizes", default="100000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", default="exact,faiss-flat,faiss-ivf,faiss-hnsw,hnswlib,annoy,auto")
    ap.add_argument("--dedup-n", type=int, default=1_000_000)
    ap.add_argument("--dedup-parts", default="text,images,scale", help="Duplicates benchmark: which of text, images, scale to run.")
    ap.add_argument("--queries", type=int, default=1000, help="Index benchmark: number of queries.")
    ap.add_argument("--markdown", action="store_true", help="Print the BENCHMARKS.md tables from saved results and exit.")
    args = ap.parse_args()
    if args.markdown:
        print(markdown())
        return
    WORK.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    print(json.dumps(machine()), flush=True)
    if "index" in parts:
        save("index", bench_index([int(s) for s in args.sizes.split(",")], args.repeats, args.backends.split(","), args.queries))
    if "embed" in parts:
        save("embed", bench_embed(args.repeats))
    if "seeds" in parts:
        save("seeds", bench_seeds())
    if "dedup" in parts:
        save("dedup", bench_dedup(args.dedup_n, tuple(args.dedup_parts.split(","))))


if __name__ == "__main__":
    main()
