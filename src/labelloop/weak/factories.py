"""Ready-made labeling functions: keywords, regular expressions, taxonomy tags, gazetteers,
a classifier's confident predictions, and nearest labelled neighbours.

Each factory returns a :class:`~labelloop.weak.lf.LabelingFunction` (or a list of them) that
works on one record *and* carries a vectorised form the applier uses on a whole DataFrame.
``field`` names the record field holding the text; a tuple of fields is joined with spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from labelloop.exceptions import InputError, MissingColumnError
from labelloop.schema import Taxonomy
from labelloop.weak.lf import ABSTAIN, LabelingFunction, Record

Field = str | Sequence[str]


# ---------------------------------------------------------------------------- text helpers
def _fields(field: Field) -> tuple[str, ...]:
    return (field,) if isinstance(field, str) else tuple(field)


def _record_text(x: Record, field: Field) -> str:
    parts = []
    for f in _fields(field):
        if f not in x:
            raise MissingColumnError(f"record has no field '{f}'; fields: {', '.join(map(str, x.keys()))}")
        v = x[f]
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            parts.append(str(v))
    return " ".join(parts)


def _frame_text(df, field: Field):
    import pandas as pd

    cols = _fields(field)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"no column {', '.join(missing)}; columns: {', '.join(map(str, df.columns))}"
        )
    s = df[cols[0]].fillna("").astype(str)
    for c in cols[1:]:
        s = s + " " + df[c].fillna("").astype(str)
    return pd.Series(s.to_numpy(), index=pd.RangeIndex(len(df)))


_SUFFIXES = ("ational", "ization", "fulness", "iveness", "ations", "ingly", "ation", "ement",
             "ments", "ness", "ment", "ings", "edly", "ing", "ies", "ied", "ers", "ed", "er",
             "ly", "es", "s")


def light_stem(word: str) -> str:
    """A light suffix stripper (not Porter): ``subscribing``/``subscribed``/``subscribes``
    all become ``subscrib``. Words of four letters or fewer are left alone."""
    w = word.lower()
    if len(w) <= 4:
        return w
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            break
    if len(w) > 3 and w[-1] == "e":
        w = w[:-1]
    return w


_WORD = re.compile(r"\w+", re.UNICODE)


def stem_text(text: str) -> str:
    """Replace every word of ``text`` by its :func:`light_stem` (lower case)."""
    return _WORD.sub(lambda m: light_stem(m.group(0)), text)


def _keyword_pattern(keywords: Sequence[str], *, word_boundary: bool, stem: bool) -> str:
    alts = []
    for kw in sorted({str(k) for k in keywords if str(k).strip()}, key=len, reverse=True):
        k = stem_text(kw) if stem else kw
        p = re.escape(k).replace(r"\ ", r"\s+")
        alts.append(p)
    if not alts:
        raise InputError("a keyword labeling function needs at least one keyword")
    body = "(?:" + "|".join(alts) + ")"
    return rf"(?<!\w){body}(?!\w)" if word_boundary else body


def _matches_frame(texts, rx: re.Pattern) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():  # pandas warns about capture groups; we only test matches
        warnings.simplefilter("ignore", UserWarning)
        return texts.str.contains(rx, regex=True).to_numpy(dtype=bool)


def _const_outputs(mask: np.ndarray, label: Any) -> list:
    return [label if m else ABSTAIN for m in mask]


# ---------------------------------------------------------------------------- keywords / regex
def keyword_lf(
    name: str,
    keywords: Iterable[str],
    label: Any,
    *,
    field: Field = "text",
    case_sensitive: bool = False,
    word_boundary: bool = True,
    stem: bool = False,
) -> LabelingFunction:
    """Vote ``label`` when any keyword occurs in the text, else abstain.

    ``word_boundary``: ``"free"`` matches ``free gift`` but not ``freedom``. ``stem``: words of
    text and keywords are reduced by :func:`light_stem` first (``subscribe`` matches
    ``subscribing``). Multi-word keywords match across any run of spaces.
    """
    keywords = [keywords] if isinstance(keywords, str) else list(keywords)
    pattern = _keyword_pattern(keywords, word_boundary=word_boundary, stem=stem)
    rx = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)

    def prep(text: str) -> str:
        return stem_text(text) if stem else text

    def fn(x):
        return label if rx.search(prep(_record_text(x, field))) else ABSTAIN

    def vec(df):
        texts = _frame_text(df, field)
        if stem:
            texts = texts.map(stem_text)
        return _const_outputs(_matches_frame(texts, rx), label)

    lf = LabelingFunction(name, fn, vectorized=vec, kind="keyword",
                          tags=_label_tags(label))
    lf.keywords = keywords  # type: ignore[attr-defined]
    return lf


def regex_lf(
    name: str,
    pattern: str | re.Pattern,
    label: Any,
    *,
    field: Field = "text",
    flags: int = re.IGNORECASE,
) -> LabelingFunction:
    """Vote ``label`` when the regular expression matches anywhere in the text."""
    try:
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
    except re.error as exc:
        raise InputError(f"labeling function '{name}': invalid regular expression {pattern!r}: {exc}") from None

    def fn(x):
        return label if rx.search(_record_text(x, field)) else ABSTAIN

    def vec(df):
        return _const_outputs(_matches_frame(_frame_text(df, field), rx), label)

    return LabelingFunction(name, fn, vectorized=vec, kind="regex", tags=_label_tags(label))


def _label_tags(label: Any) -> tuple[str, ...] | None:
    if isinstance(label, (set, frozenset, list, tuple)):
        return tuple(sorted(map(str, label)))
    return None


# ---------------------------------------------------------------------------- taxonomy
def _phrase_variants(tag: str) -> list[str]:
    """``computer-vision`` -> regex matching ``computer vision``, ``computer-vision``,
    ``computer_vision`` and ``computervision``; a trailing plural ``s`` is optional."""
    words = [w for w in re.split(r"[-_\s]+", tag) if w]
    if not words:
        return []
    last = re.escape(words[-1])
    last = last[:-1] + "s?" if last.endswith("s") and len(words[-1]) > 3 else last + "s?"
    body = r"[\s_\-]*".join([re.escape(w) for w in words[:-1]] + [last])
    return [body]


def taxonomy_lfs(
    taxonomy: Taxonomy,
    *,
    field: Field = "text",
    tags: Iterable[str] | None = None,
    acronym_max_len: int = 3,
    prefix: str = "tax:",
) -> list[LabelingFunction]:
    """One multi-label LF per taxonomy tag: fires when the tag's name or any alias occurs in the
    text, and returns the tag plus all its ancestors (a child implies its parents).

    Names match case-insensitively on word boundaries, with spaces, hyphens or underscores
    between words and an optional plural ``s``. Aliases of at most ``acronym_max_len`` letters
    (``cv``, ``em``) are acronyms and must appear in upper case, so common words do not fire.
    """
    wanted = taxonomy.tags if tags is None else [taxonomy.canonical(t) or t for t in tags]
    by_tag: dict[str, list[str]] = {t: [] for t in wanted}
    for alias, canon in taxonomy.aliases.items():
        if canon in by_tag:
            by_tag[canon].append(alias)
    lfs = []
    for tag in wanted:
        if tag not in taxonomy.parents:
            raise InputError(f"tag '{tag}' is not in the taxonomy")
        ci_parts, cs_parts = _phrase_variants(tag), []
        for a in sorted(by_tag[tag]):
            if len(a.replace("-", "")) <= acronym_max_len:
                cs_parts.append(re.escape(a.upper()).replace(r"\-", r"[\s_\-]*"))
            else:
                ci_parts.extend(_phrase_variants(a))
        rx_ci = re.compile(r"(?<!\w)(?:" + "|".join(ci_parts) + r")(?!\w)", re.IGNORECASE)
        rx_cs = re.compile(r"(?<!\w)(?:" + "|".join(cs_parts) + r")(?!\w)") if cs_parts else None
        out = frozenset({tag, *taxonomy.ancestors(tag)})
        lfs.append(_taxonomy_lf(prefix + tag, rx_ci, rx_cs, out, field))
    return lfs


def _taxonomy_lf(name, rx_ci, rx_cs, out, field) -> LabelingFunction:
    def fn(x):
        t = _record_text(x, field)
        if rx_ci.search(t) or (rx_cs is not None and rx_cs.search(t)):
            return set(out)
        return ABSTAIN

    def vec(df):
        texts = _frame_text(df, field)
        mask = _matches_frame(texts, rx_ci)
        if rx_cs is not None:
            mask |= _matches_frame(texts, rx_cs)
        return [set(out) if m else ABSTAIN for m in mask]

    return LabelingFunction(name, fn, vectorized=vec, kind="taxonomy", tags=sorted(out))


# ---------------------------------------------------------------------------- gazetteer
def normalize_text(text: str) -> str:
    """Case-fold, strip accents, turn punctuation into spaces, collapse spaces."""
    t = unicodedata.normalize("NFKD", str(text))
    t = "".join(ch for ch in t if not unicodedata.combining(ch)).casefold()
    t = re.sub(r"[^\w\s]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def gazetteer_lf(
    name: str,
    entries: Mapping[str, Iterable[str]],
    *,
    label: Any | Mapping[str, Any] | None = None,
    field: Field = "text",
    normalize: Callable[[str], str] = normalize_text,
    multi: bool = False,
) -> LabelingFunction:
    """Look names up in a gazetteer: ``entries`` maps a canonical name to its variants and
    abbreviations (``{"New York": ["NYC", "N.Y.", "new york city"]}``).

    Text and variants are normalised the same way (:func:`normalize_text`: case, accents,
    punctuation), and matched on word boundaries, longest variant first. The vote is ``label``
    (one label for any hit, or a mapping canonical name -> label); without ``label`` it is the
    canonical name itself. Several different hits: single-label abstains (ambiguous), ``multi``
    returns the set.
    """
    lookup: dict[str, str] = {}
    for canon, variants in entries.items():
        for v in [canon, *([variants] if isinstance(variants, str) else list(variants))]:
            key = normalize(v)
            if not key:
                continue
            if key in lookup and lookup[key] != canon:
                raise InputError(
                    f"gazetteer '{name}': variant '{v}' belongs to both '{lookup[key]}' and '{canon}'"
                )
            lookup[key] = canon
    if not lookup:
        raise InputError(f"gazetteer '{name}' has no entries")
    alts = sorted(lookup, key=len, reverse=True)
    rx = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in alts) + r")(?!\w)")

    def to_label(canon: str):
        if label is None:
            return canon
        if isinstance(label, Mapping):
            return label.get(canon, ABSTAIN)
        return label

    def vote(text: str):
        found = {lookup[m.group(0)] for m in rx.finditer(normalize(text))}
        if not found:
            return ABSTAIN
        labels = {to_label(c) for c in found} - {ABSTAIN}
        if not labels:
            return ABSTAIN
        if multi:
            return set(labels)
        return next(iter(labels)) if len(labels) == 1 else ABSTAIN

    def fn(x):
        return vote(_record_text(x, field))

    def vec(df):
        return [vote(t) for t in _frame_text(df, field).tolist()]

    return LabelingFunction(name, fn, vectorized=vec, kind="gazetteer")


# ---------------------------------------------------------------------------- model-based
def model_lf(
    name: str,
    model: Any,
    *,
    threshold: float = 0.9,
    field: Field = "text",
    featurize: Callable[[list[str]], Any] | None = None,
    classes: Sequence[Any] | None = None,
) -> LabelingFunction:
    """Vote a classifier's top class when its ``predict_proba`` is at least ``threshold``.

    ``model`` is any fitted object with ``predict_proba`` (e.g. a scikit-learn pipeline that
    takes raw texts). ``featurize`` turns a list of texts into the model's input when the model
    does not take texts. Class labels are ``model.classes_`` unless ``classes`` is given.
    """
    if not hasattr(model, "predict_proba"):
        raise InputError(f"labeling function '{name}': the model has no predict_proba method")
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"labeling function '{name}': threshold must lie in (0, 1], got {threshold}")
    feat = featurize or (lambda texts: texts)

    def labels_of():
        cl = classes if classes is not None else getattr(model, "classes_", None)
        if cl is None:
            raise InputError(f"labeling function '{name}': the model has no classes_; pass classes=")
        return list(cl)

    def votes(texts: list[str]) -> list:
        proba = np.asarray(model.predict_proba(feat(texts)), dtype=float)
        cl = labels_of()
        if proba.ndim != 2 or proba.shape[1] != len(cl):
            raise InputError(
                f"labeling function '{name}': predict_proba gave shape {proba.shape}, expected (n, {len(cl)})"
            )
        top = proba.argmax(1)
        ok = proba[np.arange(len(top)), top] >= threshold
        return [_py(cl[t]) if o else ABSTAIN for t, o in zip(top, ok, strict=True)]

    def fn(x):
        return votes([_record_text(x, field)])[0]

    def vec(df):
        return votes(_frame_text(df, field).tolist())

    return LabelingFunction(name, fn, vectorized=vec, kind="model")


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------------------- neighbours
def neighbor_lf(
    name: str,
    vectors: np.ndarray,
    labels: Sequence[Any],
    *,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    field: Field = "text",
    vector_field: str | None = None,
    k: int = 5,
    min_similarity: float = 0.8,
    min_agreement: float = 1.0,
    min_neighbors: int = 1,
    index: Any | None = None,
) -> LabelingFunction:
    """Vote the label of the nearest labelled examples in embedding space when they are close
    and agree.

    ``vectors``/``labels``: the labelled examples. Each record is embedded by ``embed`` (texts ->
    vectors) or read from ``vector_field``. Among its ``k`` nearest labelled examples, those with
    cosine similarity >= ``min_similarity`` count; the LF votes their majority label when at
    least ``min_neighbors`` count and the majority holds at least ``min_agreement`` of them.
    Search is exact (normalised dot products) unless ``index`` is given: a backend name of
    :func:`labelloop.index.get_index` (``"exact"``, ``"auto"``, ``"faiss"``, ``"hnswlib"``...),
    built here on ``vectors`` with cosine distance, or any object with
    ``search(queries, k) -> (ids, distances)`` already built on ``vectors`` with ids ``0..n-1``
    and cosine distance (``1 - similarity``).
    """
    V = np.asarray(vectors, dtype=np.float32)
    labels = list(labels)
    if V.ndim != 2 or V.shape[0] != len(labels) or V.shape[0] == 0:
        raise InputError(
            f"labeling function '{name}': vectors must be (n, dim) with one label per row; "
            f"got {V.shape} and {len(labels)} labels"
        )
    if embed is None and vector_field is None:
        raise InputError(f"labeling function '{name}': give embed= (texts -> vectors) or vector_field=")
    if not 1 <= k:
        raise InputError(f"labeling function '{name}': k must be >= 1")
    Vn = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    if isinstance(index, str):
        from labelloop.index import get_index

        index = get_index(index, metric="cosine").build(V, np.arange(V.shape[0]))
    codes, uniq = _factorize(labels)
    kk = min(k, V.shape[0])

    def search(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Q = np.asarray(Q, dtype=np.float32)
        if Q.ndim == 1:
            Q = Q[None, :]
        if index is not None:
            ids, dist = index.search(Q, kk)
            return np.asarray(ids, dtype=np.int64), 1.0 - np.asarray(dist, dtype=np.float64)
        Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
        S = Qn @ Vn.T
        if kk < S.shape[1]:
            idx = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
        else:
            idx = np.tile(np.arange(S.shape[1]), (S.shape[0], 1))
        sims = np.take_along_axis(S, idx, axis=1)
        return idx, sims.astype(np.float64)

    def votes(Q: np.ndarray) -> list:
        ids, sims = search(Q)
        out = []
        for row_ids, row_s in zip(ids, sims, strict=True):
            keep = (row_ids >= 0) & (row_s >= min_similarity)
            n = int(keep.sum())
            if n < min_neighbors or n == 0:
                out.append(ABSTAIN)
                continue
            counts = np.bincount(codes[row_ids[keep]], minlength=len(uniq))
            top = int(counts.argmax())
            out.append(uniq[top] if counts[top] / n >= min_agreement and (counts == counts[top]).sum() == 1 else ABSTAIN)
        return out

    def embed_frame(df) -> np.ndarray:
        if vector_field is not None:
            if vector_field not in df.columns:
                raise MissingColumnError(f"no column '{vector_field}' with vectors")
            return np.stack([np.asarray(v, dtype=np.float32) for v in df[vector_field]])
        return np.asarray(embed(_frame_text(df, field).tolist()), dtype=np.float32)

    def fn(x):
        if vector_field is not None:
            q = np.asarray(x[vector_field], dtype=np.float32)
        else:
            q = np.asarray(embed([_record_text(x, field)]), dtype=np.float32)
        return votes(q)[0]

    def vec(df):
        if len(df) == 0:
            return []
        return votes(embed_frame(df))

    return LabelingFunction(name, fn, vectorized=vec, kind="neighbor")


def _factorize(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    uniq: list[Any] = []
    pos: dict[Any, int] = {}
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        v = _py(v)
        if v not in pos:
            pos[v] = len(uniq)
            uniq.append(v)
        codes[i] = pos[v]
    return codes, uniq
