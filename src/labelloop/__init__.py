"""labelloop: high-quality training labels for the least human effort and money.

Every label is a *vote* from a *source* (an annotator, gold, a labeling function, a model,
an import); one aggregation engine turns votes into labels with confidence. See the README.
"""

from labelloop.exceptions import LabelloopError

__version__ = "0.1.0"

__all__ = ["LabelloopError", "__version__"]
