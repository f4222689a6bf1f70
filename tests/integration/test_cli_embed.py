"""embed / index / similar / dedup on a real project, as a user runs them (subprocess)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_data):
    from conftest import run_cli as run

    tmp = tmp_path_factory.mktemp("embproj")
    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv")
    df["id"] = df["id"].astype(str)
    # plant duplicates: an upper-cased copy and a re-spaced copy of two projects
    extra = df.iloc[[3, 10]].copy()
    extra["id"] = ["dup-a", "dup-b"]
    extra["title"] = [extra.title.iloc[0].upper(), "  ".join(extra.title.iloc[1].split())]
    df = pd.concat([df, extra], ignore_index=True)
    data = tmp / "mwml.csv"
    df.to_csv(data, index=False)
    d = tmp / "p"
    labels = ",".join(sorted(df.tag.unique()))
    assert run("init", d, "--task", "single", "--labels", labels).returncode == 0
    r = run("import", d, data, "--text-col", "title,description", "--label-col", "tag")
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(0)
    seeds = pd.concat([df[df.tag == c].sample(5, random_state=int(rng.integers(1000))) for c in sorted(df.tag.unique())])
    seeds[["id", "tag"]].rename(columns={"tag": "label"}).to_csv(tmp / "seeds.csv", index=False)
    return d, df, seeds, tmp


@pytest.mark.slow
def test_embed_index_similar_dedup(cli, project):
    d, df, seeds, tmp = project
    r = cli("similar", d, "--seeds", tmp / "seeds.csv")
    assert r.returncode != 0 and "labelloop embed" in r.stderr and "Traceback" not in r.stderr
    r = cli("embed", d, "--model", "tfidf", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["items"] == len(df) and summary["model"] == "tfidf"
    assert (d / "embeddings" / "tfidf" / "vectors.npy").is_file()
    # a second run embeds nothing new and gives the same vectors
    before = np.load(d / "embeddings" / "tfidf" / "vectors.npy")
    assert cli("embed", d, "--model", "tfidf").returncode == 0
    np.testing.assert_array_equal(np.load(d / "embeddings" / "tfidf" / "vectors.npy"), before)

    r = cli("index", d, "--backend", "hnswlib", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["backend"] == "hnswlib"
    assert (d / "index" / "tfidf" / "index.json").is_file()

    out = tmp / "cands.json"
    r = cli("similar", d, "--seeds", tmp / "seeds.csv", "--top", "20", "--json", out)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert set(res) == {"candidates", "dissimilar"}
    truth = dict(zip(df.id, df.tag, strict=True))
    seed_ids = set(seeds.id)
    precisions = []
    for label, cands in res["candidates"].items():
        assert len(cands) <= 20
        scores = [s for _, s in cands]
        assert scores == sorted(scores, reverse=True)
        assert not seed_ids & {i for i, _ in cands}
        precisions.append(np.mean([truth[i] == label for i, _ in cands]))
    assert np.mean(precisions) > 0.6  # random would be about 0.25
    # candidates were queued in the store
    from labelloop.project import Project
    from labelloop.store import repo

    with Project.open(d) as proj, proj.session() as s:
        items = repo.items_frame(s, proj.id)
        sets = repo.embedding_sets(s, proj.id)
    top_label, top_cands = next(iter(res["candidates"].items()))
    first = items.set_index("external_id").loc[top_cands[0][0]]
    assert first.priority == pytest.approx(1.0 + top_cands[0][1], abs=1e-5)
    assert [e.model for e in sets] == ["tfidf"] and sets[0].dim == 256

    out = tmp / "dups.json"
    r = cli("dedup", d, "--threshold", "0.98", "--json", out)
    assert r.returncode == 0, r.stderr
    groups = json.loads(out.read_text())["groups"]
    as_sets = [set(g) for g in groups]
    assert {df.id.iloc[3], "dup-a"} in [g & {df.id.iloc[3], "dup-a"} for g in as_sets]
    assert any({df.id.iloc[10], "dup-b"} <= g for g in as_sets)
    assert all(len(g) >= 2 for g in groups)


@pytest.mark.slow
def test_cli_errors_are_one_line(cli, project, tmp_path):
    d, df, seeds, tmp = project
    bad = tmp_path / "seeds.csv"
    bad.write_text("id,label\nnope,mlops\n")
    cli("embed", d, "--model", "tfidf")
    r = cli("similar", d, "--seeds", bad)
    assert r.returncode != 0 and "nope" in r.stderr and "Traceback" not in r.stderr
    bad.write_text("item,tag\n1,x\n")
    r = cli("similar", d, "--seeds", bad)
    assert r.returncode != 0 and "id,label" in r.stderr
    r = cli("index", d, "--backend", "nope")
    assert r.returncode != 0 and "faiss-hnsw" in r.stderr
    r = cli("embed", d, "--model", "no-such-model")
    assert r.returncode != 0 and "unknown embedder" in r.stderr
    r = cli("dedup", tmp_path / "not-a-project")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    r = cli("dedup", tmp_path / "not-a-project", "--image-threshold", "high")
    assert r.returncode != 0 and "--image-threshold" in r.stderr and "Traceback" not in r.stderr
    for cmd in ("embed", "index", "similar", "dedup"):
        h = cli(cmd, "--help")
        assert h.returncode == 0 and "Example" in h.stdout
