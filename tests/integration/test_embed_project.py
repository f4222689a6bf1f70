"""Embeddings of a project through the Python API: cache reuse, staleness, index, dedup."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labelloop.exceptions import ConfigError


@pytest.fixture
def proj(tmp_path):
    from labelloop.io import import_file
    from labelloop.project import Project

    csv = tmp_path / "items.csv"
    csv.write_text(
        "id,text,label\n"
        "a,cats purr on the sofa,pets\n"
        "b,dogs bark at the mailman,pets\n"
        "c,stock prices fall sharply,finance\n"
        "d,bond yields rise again,finance\n"
        "e,Cats purr on the SOFA!,pets\n"
    )
    p = Project.init(tmp_path / "p", task="single", labels=["pets", "finance"])
    import_file(p, str(csv), text_col="text", label_col="label")
    yield p, csv
    p.close()


def test_embed_reuses_cache_and_detects_changes(proj):
    from labelloop.embed import EmbeddingCache, embed_project, load_vectors
    from labelloop.io import import_file
    from labelloop.store import repo

    p, csv = proj
    with pytest.raises(ConfigError, match="labelloop embed"):
        load_vectors(p)
    pv = embed_project(p, model="tfidf", n_components=4)
    assert pv.vectors.shape == (5, 4) and pv.model == "tfidf"
    with p.session() as s:
        sets = repo.embedding_sets(s, p.id)
    assert [(e.model, e.dim, e.count) for e in sets] == [("tfidf", 4, 5)]
    fp = sets[0].meta["fingerprint"]
    cache = EmbeddingCache(p.dir / "embeddings" / "cache")
    assert cache.count(fp) == 5
    # change one item's text: the vectors are stale until embedded again, and only it is new
    csv.write_text(csv.read_text().replace("bond yields rise again", "bond yields rise again today"))
    import_file(p, str(csv), text_col="text", label_col="label")
    with pytest.raises(ConfigError, match="out of date"):
        load_vectors(p)
    pv2 = embed_project(p, model="tfidf")
    assert EmbeddingCache(p.dir / "embeddings" / "cache").count(fp) == 6
    np.testing.assert_allclose(pv2.vectors[:3], pv.vectors[:3])


def test_index_similar_and_dedup_in_python(proj, tmp_path):
    from labelloop.dedup import dedup_project
    from labelloop.embed import embed_project, index_project, load_project_index
    from labelloop.neighbors import similar_project
    from labelloop.store import repo

    p, _ = proj
    embed_project(p, model="tfidf", n_components=4)
    ix, path, pv = index_project(p, backend="exact")
    again, _ = load_project_index(p)
    assert again is not None and len(again) == 5
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("id,label\na,pets\nc,finance\n")
    res = similar_project(p, seeds, top=5)
    assert set(res["candidates"]) == {"pets", "finance"}
    assert res["candidates"]["pets"][0][0] == "e"  # the near-copy of seed a comes first
    with p.session() as s:
        items = repo.items_frame(s, p.id).set_index("external_id")
    assert items.loc["e", "priority"] == pytest.approx(1 + res["candidates"]["pets"][0][1], abs=1e-5)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\na,weather\n")
    from labelloop.exceptions import SchemaError

    with pytest.raises(SchemaError, match="weather"):
        similar_project(p, bad)
    out = dedup_project(p, threshold=None)
    assert out["groups"] == [["a", "e"]]  # same text up to case and punctuation
    assert json.loads((p.dir / "dedup" / "groups.json").read_text())["groups"] == [["a", "e"]]
    assert p.settings["dedup"]["groups"] == 1


def test_image_project_embed_and_perceptual_dedup(tmp_path):
    pytest.importorskip("imagehash")
    from PIL import Image
    from sklearn.datasets import load_digits

    from labelloop.dedup import dedup_project
    from labelloop.embed import embed_project
    from labelloop.io import import_file
    from labelloop.project import Project

    folder = tmp_path / "imgs"
    folder.mkdir()
    digits = load_digits()
    for i in range(8):
        im = Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).resize((64, 64), Image.BICUBIC)
        im.save(folder / f"d{i}.png")
    Image.open(folder / "d3.png").convert("RGB").save(folder / "d3_copy.jpg", quality=70)
    Image.open(folder / "d5.png").crop((3, 3, 61, 61)).resize((64, 64)).save(folder / "d5_crop.png")
    with Project.init(tmp_path / "ip", data="image", task="single", labels=["x"]) as p:
        import_file(p, str(folder), fmt="folder")
        pv = embed_project(p)  # auto -> histogram + HOG for images
        assert pv.model == "histogram" and pv.vectors.shape == (10, 704)
        out = dedup_project(p, threshold=0.99)
        assert ["d3.png", "d3_copy.jpg"] in out["groups"] or ["d3_copy.jpg", "d3.png"] in out["groups"]
        assert all(len(g) == 2 for g in out["groups"])
        # without embeddings, the verified image evidence alone finds both copies
        out = dedup_project(p, threshold=None, image_threshold=0.99)
        assert sorted(sorted(g) for g in out["groups"]) == [["d3.png", "d3_copy.jpg"], ["d5.png", "d5_crop.png"]]
        assert out["summary"]["pairs"]["image"] == 2 and out["summary"]["image_threshold"] == 0.99
