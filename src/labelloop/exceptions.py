"""One error hierarchy for labelloop.

Every error a user can cause is a ``LabelloopError``; the CLI prints its message (no traceback)
and exits non-zero. Messages say what was wrong and what to do.

    LabelloopError
    ├── InputError               bad user input (file, column, value); carries path/line
    │   ├── EmptyInputError      a file or table with no rows
    │   ├── MissingColumnError   a required column is absent
    │   ├── DuplicateIdError     the same external id twice in one import
    │   └── InvalidImageError    a file that claims to be an image and is not
    ├── SchemaError              a label outside the project's label schema
    ├── TaxonomyError            malformed taxonomy; ``TaxonomyCycleError`` names the cycle
    │   └── TaxonomyCycleError
    ├── ConfigError              bad settings / project folder
    ├── StoreError               database problems; ``NotFoundError`` for a missing row
    │   ├── NotFoundError
    │   └── ConflictError        a request that clashes with the current state (already answered,
    │                            lease expired and the item handed to someone else)
    ├── AccessError              not allowed: wrong role, paused annotator, media outside the media root
    ├── LabelingFunctionError    a labeling function raised or returned a bad label on a record
    ├── NotFittedError           an estimator used before ``fit`` (ValueError + AttributeError, like sklearn's)
    ├── NotificationError        a webhook / Telegram message could not be delivered
    ├── ConvergenceWarning       (a warning, not an error) EM did not converge
    └── MissingDependencyError   an optional package is not installed; says what to install
"""

from __future__ import annotations


class LabelloopError(Exception):
    """Base class of every error labelloop raises on purpose."""


class InputError(LabelloopError, ValueError):
    """Bad input from the user. ``path`` and ``line`` locate it when known."""

    def __init__(self, message: str, *, path: object | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message)
        self.reason = message


class EmptyInputError(InputError):
    pass


class MissingColumnError(InputError):
    pass


class DuplicateIdError(InputError):
    pass


class InvalidImageError(InputError):
    pass


class SchemaError(LabelloopError, ValueError):
    pass


class TaxonomyError(LabelloopError, ValueError):
    pass


class TaxonomyCycleError(TaxonomyError):
    def __init__(self, cycle: list[str]):
        self.cycle = list(cycle)
        super().__init__("taxonomy has a cycle: " + " -> ".join(self.cycle))


class ConfigError(LabelloopError):
    pass


class StoreError(LabelloopError):
    pass


class NotFoundError(StoreError, LookupError):
    pass


class ConflictError(StoreError):
    pass


class AccessError(LabelloopError, PermissionError):
    pass


class LabelingFunctionError(LabelloopError):
    """A labeling function failed on a record; ``lf`` and ``record_id`` say which."""

    def __init__(self, message: str, *, lf: str | None = None, record_id: object | None = None):
        self.lf = lf
        self.record_id = record_id
        super().__init__(message)


class NotFittedError(LabelloopError, ValueError, AttributeError):
    """Same bases as scikit-learn's NotFittedError, without importing scikit-learn."""


class NotificationError(LabelloopError):
    """A notification (webhook, Telegram) could not be delivered."""


class ConvergenceWarning(UserWarning):
    """EM or another iterative fit stopped at ``max_iter`` before reaching ``tol``."""


class MissingDependencyError(LabelloopError, ImportError):
    def __init__(self, package: str, extra: str | None = None, purpose: str = ""):
        hint = f"pip install 'labelloop[{extra}]'" if extra else f"pip install {package}"
        what = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"optional package '{package}' is not installed{what}; run: {hint}")
        self.package = package


def require(module: str, *, package: str | None = None, extra: str | None = None, purpose: str = ""):
    """Import an optional dependency lazily, failing with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised through callers
        raise MissingDependencyError(package or module, extra, purpose) from exc
