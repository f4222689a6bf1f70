"""Weak supervision: labeling functions, their analysis, and the label model.

    from labelloop.weak import labeling_function, ABSTAIN, keyword_lf, apply_lfs, LabelModel
"""

from labelloop.weak.analysis import lf_summary, summary_html, summary_table
from labelloop.weak.apply import LFApplier, LFFailure, LFOutputs, apply_lfs
from labelloop.weak.factories import (
    gazetteer_lf,
    keyword_lf,
    light_stem,
    model_lf,
    neighbor_lf,
    normalize_text,
    regex_lf,
    taxonomy_lfs,
)
from labelloop.weak.label_model import LabelModel
from labelloop.weak.lf import (
    ABSTAIN,
    LabelingFunction,
    Preprocessor,
    Record,
    labeling_function,
    preprocessor,
)

__all__ = [
    "ABSTAIN",
    "LFApplier",
    "LFFailure",
    "LFOutputs",
    "LabelModel",
    "LabelingFunction",
    "Preprocessor",
    "Record",
    "apply_lfs",
    "gazetteer_lf",
    "keyword_lf",
    "labeling_function",
    "lf_summary",
    "light_stem",
    "model_lf",
    "neighbor_lf",
    "normalize_text",
    "preprocessor",
    "regex_lf",
    "summary_html",
    "summary_table",
    "taxonomy_lfs",
]
