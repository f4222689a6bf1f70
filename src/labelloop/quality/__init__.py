"""Dataset health: label errors, outliers, class imbalance.

- :func:`find_label_errors`: one suspicion score per item (probability that its given label is
  wrong), a suggested label and an ``is_error`` decision, from model probabilities, neighbours in
  embedding space and several answers per item;
- :func:`find_outliers`: items unlike anything else, by embedding density;
- :func:`class_balance`, :func:`class_weights`, :func:`resample`: class imbalance and remedies.
"""

from labelloop.quality.imbalance import class_balance, class_weights, resample
from labelloop.quality.label_errors import find_label_errors, out_of_fold_probs
from labelloop.quality.outliers import find_outliers

__all__ = [
    "class_balance",
    "class_weights",
    "find_label_errors",
    "find_outliers",
    "out_of_fold_probs",
    "resample",
]
