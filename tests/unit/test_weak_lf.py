"""Labeling functions, factories and the applier on tiny hand-checkable data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelloop.exceptions import InputError, LabelingFunctionError, MissingColumnError
from labelloop.schema import Taxonomy
from labelloop.weak import (
    ABSTAIN,
    LabelingFunction,
    apply_lfs,
    gazetteer_lf,
    keyword_lf,
    labeling_function,
    light_stem,
    model_lf,
    neighbor_lf,
    preprocessor,
    regex_lf,
    taxonomy_lfs,
)


def test_decorator_names_resources_and_preprocessors():
    @preprocessor
    def lower(x):
        x.low = x.text.lower()
        return x

    @labeling_function(resources={"words": {"free"}}, pre=[lower])
    def has_free(x, words):
        return "spam" if words & set(x.low.split()) else ABSTAIN

    assert isinstance(has_free, LabelingFunction)
    assert has_free.name == "has_free"
    assert has_free({"text": "FREE gift"}) == "spam"
    assert has_free("nothing here") == ABSTAIN


def test_preprocessor_runs_once_per_record_and_never_reuses_a_result():
    calls = []

    @preprocessor
    def count(x):
        calls.append(x.text)
        x.n = len(x.text)
        return x

    a = labeling_function(name="a", pre=[count])(lambda x: x.n)
    b = labeling_function(name="b", pre=[count])(lambda x: x.n)
    out = apply_lfs([a, b], [f"{'x' * i}" for i in range(1, 40)], classes=list(range(50)))
    assert out.L[:, 0].tolist() == out.L[:, 1].tolist() == list(range(1, 40))
    assert len(calls) == 39  # shared by both LFs


def test_decorator_rejects_resource_not_in_signature():
    with pytest.raises(InputError, match="no parameter named words"):
        @labeling_function(resources={"words": {"a"}})
        def f(x):
            return ABSTAIN


def test_keyword_word_boundaries_case_and_stemming():
    df = pd.DataFrame({"text": ["Free gift", "freedom now", "FREE!", "subscribing today", "I subscribed"]})
    lf = keyword_lf("free", ["free"], 1)
    assert lf.vectorized(df) == [1, -1, 1, -1, -1]
    cs = keyword_lf("free_cs", ["free"], 1, case_sensitive=True)
    assert cs.vectorized(df) == [-1, -1, -1, -1, -1]
    nb = keyword_lf("free_nb", ["free"], 1, word_boundary=False)
    assert nb.vectorized(df) == [1, 1, 1, -1, -1]
    st = keyword_lf("sub", ["subscribe"], 1, stem=True)
    assert st.vectorized(df) == [-1, -1, -1, 1, 1]
    # per-record and vectorised forms agree
    for f in (lf, cs, nb, st):
        assert [f(r) for r in df.to_dict("records")] == f.vectorized(df)
    assert light_stem("subscribing") == light_stem("subscribes") == light_stem("subscribed") == "subscrib"


def test_regex_and_invalid_pattern():
    lf = regex_lf("check_out", r"check.*out", "spam")
    assert lf("please CHECK my video out") == "spam"
    assert lf("out and check") == ABSTAIN
    with pytest.raises(InputError, match="invalid regular expression"):
        regex_lf("bad", "(unclosed", 1)


def test_missing_field_is_reported():
    lf = keyword_lf("k", ["a"], 1, field="body")
    out = apply_lfs([lf], pd.DataFrame({"text": ["a"]}), classes=[0, 1])
    assert len(out.failures) == 1 and "body" in out.failures[0].error
    with pytest.raises(MissingColumnError):
        lf.vectorized(pd.DataFrame({"text": ["a"]}))


def test_taxonomy_lfs_names_aliases_parents_and_acronyms():
    tax = Taxonomy.from_records([
        {"tag": "computer-vision", "aliases": ["cv", "vision"], "parents": []},
        {"tag": "object-detection", "aliases": [], "parents": ["computer-vision"]},
        {"tag": "expectation-maximization", "aliases": ["em"], "parents": []},
    ])
    lfs = {lf.name: lf for lf in taxonomy_lfs(tax)}
    od = lfs["tax:object-detection"]
    assert od("Real-time object detection with YOLO") == {"object-detection", "computer-vision"}
    assert od("Object_Detections everywhere") == {"object-detection", "computer-vision"}
    assert od("objects and detection") == ABSTAIN
    cv = lfs["tax:computer-vision"]
    assert cv("a CV pipeline") == {"computer-vision"}
    assert cv("my cv is online") == ABSTAIN  # short aliases are acronyms: upper case only
    assert cv("Vision transformers") == {"computer-vision"}
    em = lfs["tax:expectation-maximization"]
    assert em("fit by EM") == {"expectation-maximization"} and em("hem them em") == ABSTAIN


def test_gazetteer_normalises_variants():
    lf = gazetteer_lf("city", {"New York": ["NYC", "N.Y.", "new york city"], "São Paulo": ["Sao Paulo", "SP"]})
    assert lf("Flights to N.Y. tomorrow") == "New York"
    assert lf("flights to nyc") == "New York"
    assert lf("SAO PAULO is big") == "São Paulo"
    assert lf("from NYC to São Paulo") == ABSTAIN  # two different places: ambiguous
    assert lf("Newark") == ABSTAIN
    lab = gazetteer_lf("us", {"New York": ["NYC"], "Paris": []}, label={"New York": "us"})
    assert lab("NYC") == "us" and lab("Paris") == ABSTAIN
    multi = gazetteer_lf("m", {"New York": ["NYC"], "Paris": []}, multi=True)
    assert multi("NYC then Paris") == {"New York", "Paris"}


class _Model:
    classes_ = np.array(["ham", "spam"])

    def predict_proba(self, texts):
        return np.array([[0.05, 0.95] if "win" in t else [0.6, 0.4] for t in texts])


def test_model_lf_threshold():
    lf = model_lf("clf", _Model(), threshold=0.9)
    assert lf("win money") == "spam"
    assert lf("hello") == ABSTAIN  # 0.6 < 0.9
    df = pd.DataFrame({"text": ["win", "hi"]})
    assert lf.vectorized(df) == ["spam", ABSTAIN]
    with pytest.raises(InputError, match="predict_proba"):
        model_lf("bad", object())


def test_neighbor_lf_exact_search_and_agreement():
    V = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=float)
    labels = ["a", "a", "b", "b"]
    lf = neighbor_lf("nn", V, labels, vector_field="vec", k=2, min_similarity=0.9)
    df = pd.DataFrame({"vec": [np.array([1.0, 0.05]), np.array([0.05, 1.0]), np.array([1.0, 1.0])]})
    # third query: its 2 nearest are one 'a' and one 'b' at cos ~0.77 < 0.9 -> abstain
    assert lf.vectorized(df) == ["a", "b", ABSTAIN]
    loose = neighbor_lf("nn2", V, labels, vector_field="vec", k=2, min_similarity=0.5)
    assert loose.vectorized(df)[2] == ABSTAIN  # close but they disagree
    assert lf({"vec": [0.0, 2.0]}) == "b"


class _Index:
    """A stand-in vector index with the project's search(queries, k) -> (ids, distances)."""

    def __init__(self, V):
        self.V = V / np.linalg.norm(V, axis=1, keepdims=True)
        self.calls = 0

    def search(self, Q, k):
        self.calls += 1
        S = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ self.V.T
        ids = np.argsort(-S, axis=1)[:, :k]
        return ids, 1.0 - np.take_along_axis(S, ids, axis=1)


def test_neighbor_lf_uses_given_index():
    V = np.array([[1, 0], [0, 1]], dtype=float)
    idx = _Index(V)
    lf = neighbor_lf("nn", V, [0, 1], embed=lambda texts: np.array([[1.0, 0.0] if t == "x" else [0.0, 1.0] for t in texts]),
                     k=1, min_similarity=0.9, index=idx)
    out = apply_lfs([lf], ["x", "y"], classes=[0, 1])
    assert out.L[:, 0].tolist() == [0, 1] and idx.calls == 1


def test_neighbor_lf_with_a_project_index_matches_exact_search():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(60, 8))
    labels = (V[:, 0] > 0).astype(int).tolist()
    Q = pd.DataFrame({"vec": list(V[:20] + 0.05 * rng.normal(size=(20, 8)))})
    exact = neighbor_lf("nn", V, labels, vector_field="vec", k=3, min_similarity=0.5)
    indexed = neighbor_lf("nn", V, labels, vector_field="vec", k=3, min_similarity=0.5, index="exact")
    assert indexed.vectorized(Q) == exact.vectorized(Q)
    nearest = neighbor_lf("nn1", V, labels, vector_field="vec", k=1, min_similarity=0.9, index="exact")
    assert nearest.vectorized(Q) == labels[:20]  # each query's nearest example is its source


def test_applier_single_label_codes_classes_and_ids():
    @labeling_function
    def short(x):
        return "ham" if len(x.text) < 4 else ABSTAIN

    spam = keyword_lf("spam_kw", ["win"], "spam")
    df = pd.DataFrame({"id": ["a", "b", "c"], "text": ["hi", "win big", "a longer text"]})
    out = apply_lfs([short, spam], df, classes=["ham", "spam"])
    assert out.L.tolist() == [[0, -1], [-1, 1], [-1, -1]]
    assert out.item_ids.tolist() == ["a", "b", "c"]
    learned = apply_lfs([spam, short], df)  # classes learned in order of appearance
    assert learned.classes == ["spam", "ham"] and learned.L.tolist() == [[-1, 1], [0, -1], [-1, -1]]
    # integer codes are accepted for string classes
    codes = apply_lfs([labeling_function(name="c")(lambda x: 1)], df, classes=["ham", "spam"])
    assert codes.L[:, 0].tolist() == [1, 1, 1]
    frame = out.to_frame()
    assert frame.to_dict("records") == [{"item_id": "a", "lf": "short", "label": "ham"},
                                        {"item_id": "b", "lf": "spam_kw", "label": "spam"}]


def test_applier_failures_default_strict_and_bad_labels():
    @labeling_function
    def fragile(x):
        if x.text == "boom":
            raise ValueError("cannot parse")
        return 1

    @labeling_function
    def wrong(x):
        return "maybe" if x.text == "hi" else ABSTAIN

    data = [{"id": 10, "text": "ok"}, {"id": 11, "text": "boom"}, {"id": 12, "text": "hi"}]
    out = apply_lfs([fragile, wrong], data, classes=[0, 1])
    assert out.L.tolist() == [[1, -1], [-1, -1], [1, -1]]
    got = [(f.lf, f.record_id) for f in out.failures]
    assert got == [("fragile", 11), ("wrong", 12)]
    assert "ValueError: cannot parse" in out.failures[0].error and "not one of the classes" in out.failures[1].error
    with pytest.raises(LabelingFunctionError, match="'fragile' failed on record 11") as ei:
        apply_lfs([fragile, wrong], data, classes=[0, 1], strict=True)
    assert ei.value.lf == "fragile" and ei.value.record_id == 11


def test_applier_parallel_matches_serial():
    @labeling_function
    def parity(x):
        if x.n % 7 == 0:
            raise RuntimeError("seven")
        return x.n % 2 if x.n % 3 else ABSTAIN

    data = [{"id": i, "n": i} for i in range(200)]
    a = apply_lfs([parity], data, classes=[0, 1], n_jobs=1)
    b = apply_lfs([parity], data, classes=[0, 1], n_jobs=2)
    assert np.array_equal(a.L, b.L)
    assert [(f.lf, f.record_id) for f in a.failures] == [(f.lf, f.record_id) for f in b.failures]
    assert len(a.failures) == len(range(0, 200, 7))


def test_applier_input_errors():
    lf = keyword_lf("k", ["a"], 1)
    with pytest.raises(InputError, match="no labeling functions"):
        apply_lfs([], ["a"])
    with pytest.raises(InputError, match="unique"):
        apply_lfs([lf, lf], ["a"])
    with pytest.raises(InputError):
        apply_lfs([lf], [])
    with pytest.raises(InputError, match="task"):
        apply_lfs([lf], ["a"], task="both")


def test_multilabel_apply_votes_per_tag():
    tax = Taxonomy.from_records([
        {"tag": "vision", "aliases": [], "parents": []},
        {"tag": "detection", "aliases": [], "parents": ["vision"]},
        {"tag": "nlp", "aliases": ["language"], "parents": []},
    ])
    lfs = taxonomy_lfs(tax)
    out = apply_lfs(lfs, ["detection models", "language and vision", "nothing"], task="multi")
    assert set(out.classes) == {"vision", "detection", "nlp"}
    by = dict(zip(out.lf_names, out.sets, strict=True))
    assert by["tax:detection"][0] == frozenset({"detection", "vision"})
    assert by["tax:nlp"][1] == frozenset({"nlp"}) and by["tax:nlp"][2] is None
    votes = out.votes()
    vm = votes.per_tag["vision"]
    # item 0: detection LF votes 1 for vision; item 1: vision LF votes 1
    pairs = sorted(zip(vm.item_idx.tolist(), vm.sources[vm.source_idx].tolist(), vm.labels.tolist(), strict=True))
    assert pairs == [(0, "lf:tax:detection", 1), (1, "lf:tax:vision", 1)]
