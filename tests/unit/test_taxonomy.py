import pytest

from labelloop.exceptions import SchemaError, TaxonomyCycleError, TaxonomyError
from labelloop.schema import LabelSchema, Taxonomy, normalize_tag

RECORDS = [
    {"tag": "active-learning", "aliases": ["AL"], "parents": ["semi-supervised-learning"]},
    {"tag": "semi-supervised-learning", "aliases": [], "parents": ["machine-learning"]},
    {"tag": "machine-learning", "aliases": ["ml"], "parents": []},
    {"tag": "annotation", "aliases": ["data-labeling", "labeling"], "parents": []},
]


def test_aliases_map_to_canonical_tags():
    tax = Taxonomy.from_records(RECORDS)
    assert tax.canonical("Data Labeling") == "annotation"
    assert tax.canonical("AL") == "active-learning"
    assert tax.canonical("nope") is None
    assert normalize_tag("  Semi_Supervised Learning ") == "semi-supervised-learning"


def test_ancestors_are_transitive():
    tax = Taxonomy.from_records(RECORDS)
    assert tax.ancestors("active-learning") == {"semi-supervised-learning", "machine-learning"}
    assert tax.expand(["al", "labeling"]) == ["active-learning", "annotation", "machine-learning", "semi-supervised-learning"]
    assert tax.children("machine-learning") == ["semi-supervised-learning"]


def test_cycle_is_rejected_and_named():
    with pytest.raises(TaxonomyCycleError) as err:
        Taxonomy.from_records([
            {"tag": "a", "parents": ["b"]},
            {"tag": "b", "parents": ["c"]},
            {"tag": "c", "parents": ["a"]},
        ])
    assert err.value.cycle[0] == err.value.cycle[-1]
    assert set(err.value.cycle) == {"a", "b", "c"}
    assert "a -> b -> c -> a" in str(err.value) or "b -> c -> a -> b" in str(err.value) or "c -> a -> b -> c" in str(err.value)


def test_self_parent_is_a_cycle():
    with pytest.raises(TaxonomyCycleError, match="x -> x"):
        Taxonomy.from_records([{"tag": "x", "parents": ["x"]}])


@pytest.mark.parametrize(
    "records, message",
    [
        ([{"aliases": []}], "no 'tag'"),
        ([{"tag": "a"}, {"tag": "a"}], "defined twice"),
        ([{"tag": "a", "aliases": ["z"]}, {"tag": "b", "aliases": ["z"]}], "alias 'z'"),
        ([{"tag": "a", "parents": "b"}], "must be lists"),
    ],
)
def test_malformed_taxonomy(records, message):
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.from_records(records)


def test_unknown_tag_policies():
    tax = Taxonomy.from_records(RECORDS)
    assert tax.expand(["AL", "Brand New"], unknown="keep") == ["active-learning", "brand-new", "machine-learning", "semi-supervised-learning"]
    assert tax.expand(["AL", "brand-new"], unknown="drop") == ["active-learning", "machine-learning", "semi-supervised-learning"]
    with pytest.raises(SchemaError, match="unknown tag 'brand-new'"):
        tax.expand(["brand-new"], unknown="error")


def test_real_madewithml_taxonomy(shared_data):
    tax = Taxonomy.load(shared_data / "madewithml" / "tags.json")
    assert len(tax) >= 325
    assert "semi-supervised-learning" in tax.expand(["active-learning"])
    summary = tax.check()
    assert summary["with_parents"] == 196


def test_schema_single_label_learns_and_validates():
    s = LabelSchema(task="single", classes=[])
    assert s.normalize(" spam ") == "spam"
    assert s.classes == ["spam"]
    strict = LabelSchema(task="single", classes=["ham", "spam"], unknown="error")
    with pytest.raises(SchemaError, match="not one of the classes"):
        strict.normalize("eggs")
    with pytest.raises(SchemaError, match="several labels"):
        strict.normalize(["ham", "spam"])


def test_schema_multi_label_applies_taxonomy_on_every_vote():
    s = LabelSchema(task="multi", taxonomy=Taxonomy.from_records(RECORDS))
    assert s.normalize("AL, labeling") == ["active-learning", "annotation", "machine-learning", "semi-supervised-learning"]
    assert s.normalize('["ml"]') == ["machine-learning"]
    roundtrip = LabelSchema.from_dict(s.to_dict())
    assert roundtrip.normalize(["al"]) == ["active-learning", "machine-learning", "semi-supervised-learning"]
