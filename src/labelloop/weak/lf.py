"""Labeling functions: a named function ``f(record) -> label | ABSTAIN``.

A labeling function (LF) looks at one record and either votes a label or abstains. Single-label
LFs return a class (its value or its integer code); multi-label LFs return a set of tags. Either
returns :data:`ABSTAIN` (``-1``) or ``None`` to abstain.

    from labelloop.weak import labeling_function, ABSTAIN

    @labeling_function(resources={"words": {"subscribe", "channel"}})
    def asks_to_subscribe(x, words):
        return "spam" if words & set(x.text.lower().split()) else ABSTAIN

An LF may also carry a *vectorised* form that labels a whole DataFrame at once (the factories in
:mod:`labelloop.weak.factories` do); the applier uses it when it exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from labelloop.exceptions import InputError

ABSTAIN = -1


class Record(dict):
    """One data record: a dict whose keys are also attributes (``x.text`` or ``x["text"]``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"record has no field '{name}'; fields: {', '.join(map(str, self.keys()))}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def as_record(obj: Any) -> Record:
    """A :class:`Record` from a mapping, a pandas row, a named tuple or a plain string."""
    if isinstance(obj, Record):
        return obj
    if isinstance(obj, Mapping):
        return Record(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):  # pandas Series
        return Record(obj.to_dict())
    if hasattr(obj, "_asdict"):  # named tuple
        return Record(obj._asdict())
    if isinstance(obj, str):
        return Record(text=obj)
    raise InputError(f"cannot read a record from {type(obj).__name__}; give a dict, a DataFrame row or a string")


class Preprocessor:
    """A function ``record -> record`` (e.g. adds a cleaned text field) run before an LF.

    The result of the last record is memoised, so several LFs that share a preprocessor compute
    it once per record.
    """

    def __init__(self, fn: Callable[[Record], Any], *, name: str | None = None, memoize: bool = True):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "preprocessor")
        self.memoize = memoize
        self._last: tuple[Record, Record] | None = None

    def __call__(self, record: Record) -> Record:
        # the cache holds the record itself, so its identity cannot be reused by another one
        if self.memoize and self._last is not None and self._last[0] is record:
            return self._last[1]
        out = self.fn(record)
        if out is None:
            out = record
        out = as_record(out)
        if self.memoize:
            self._last = (record, out)
        return out

    def __getstate__(self):
        return {"fn": self.fn, "name": self.name, "memoize": self.memoize, "_last": None}

    def __repr__(self) -> str:
        return f"Preprocessor({self.name!r})"


def preprocessor(fn: Callable | None = None, *, name: str | None = None, memoize: bool = True):
    """Decorator: ``@preprocessor`` turns ``record -> record`` into a :class:`Preprocessor`."""
    if fn is None:
        return lambda f: Preprocessor(f, name=name, memoize=memoize)
    return Preprocessor(fn, name=name, memoize=memoize)


class LabelingFunction:
    """A named labeling function.

    Parameters
    ----------
    name: unique name, also the vote source name ``lf:<name>`` in a project.
    fn: ``fn(record, **resources) -> label | set[tag] | ABSTAIN | None``.
    resources: keyword arguments passed to ``fn`` on every call (word lists, models...).
    pre: preprocessors applied to the record, in order, before ``fn``.
    tags: multi-label only: the tags this LF speaks about. When it fires, it votes 1 for the
        tags it returns and 0 for the other tags listed here; tags it never names get no vote.
    vectorized: optional ``f(DataFrame) -> sequence`` giving the same outputs for every row at
        once; used by the applier in place of the per-record loop.
    kind: what made the LF (``custom``, ``keyword``, ``regex``, ``taxonomy`` ...), for summaries.
    version: stored with the LF's votes in a project; change it when the LF's logic changes.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        resources: Mapping[str, Any] | None = None,
        pre: Sequence[Preprocessor | Callable] | None = None,
        tags: Iterable[str] | None = None,
        vectorized: Callable[[Any], Sequence[Any]] | None = None,
        kind: str = "custom",
        version: str = "1",
    ):
        if not isinstance(name, str) or not name.strip():
            raise InputError("a labeling function needs a non-empty name")
        if not callable(fn):
            raise InputError(f"labeling function '{name}': fn must be callable")
        self.name = name.strip()
        self.fn = fn
        self.resources = dict(resources or {})
        self.pre = [p if isinstance(p, Preprocessor) else Preprocessor(p) for p in (pre or [])]
        self.tags = None if tags is None else tuple(dict.fromkeys(tags))
        self.vectorized = vectorized
        self.kind = kind
        self.version = str(version)

    def __call__(self, record: Any) -> Any:
        x = as_record(record)
        for p in self.pre:
            x = p(x)
        return self.fn(x, **self.resources)

    def __repr__(self) -> str:
        return f"LabelingFunction({self.name!r}, kind={self.kind!r})"


def labeling_function(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    resources: Mapping[str, Any] | None = None,
    pre: Sequence[Preprocessor | Callable] | None = None,
    tags: Iterable[str] | None = None,
    version: str = "1",
):
    """Decorator turning ``f(record) -> label | ABSTAIN`` into a :class:`LabelingFunction`.

    Use bare (``@labeling_function``) or with options
    (``@labeling_function(name="short", resources={"n": 5}, pre=[clean])``).
    """

    def wrap(f: Callable) -> LabelingFunction:
        if resources:
            params = inspect.signature(f).parameters
            missing = [r for r in resources if r not in params and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())]
            if missing:
                raise InputError(
                    f"labeling function '{f.__name__}' takes no parameter named {', '.join(missing)}; "
                    "add them to its signature to receive the resources"
                )
        return LabelingFunction(
            name or f.__name__, f, resources=resources, pre=pre, tags=tags, kind="custom", version=version
        )

    if fn is not None:
        return wrap(fn)
    return wrap


def collect_lfs(namespace: Mapping[str, Any] | Iterable[Any]) -> list[LabelingFunction]:
    """Every :class:`LabelingFunction` in a module namespace (or iterable), lists flattened."""
    values = namespace.values() if isinstance(namespace, Mapping) else namespace
    out: list[LabelingFunction] = []
    for v in values:
        if isinstance(v, LabelingFunction):
            out.append(v)
        elif isinstance(v, (list, tuple)) and v and all(isinstance(e, LabelingFunction) for e in v):
            out.extend(v)
    return out


def check_unique_names(lfs: Sequence[LabelingFunction]) -> None:
    seen: set[str] = set()
    for lf in lfs:
        if not isinstance(lf, LabelingFunction):
            raise InputError(
                f"expected labeling functions, got {type(lf).__name__}; decorate it with @labeling_function"
            )
        if lf.name in seen:
            raise InputError(f"two labeling functions are named '{lf.name}'; LF names must be unique")
        seen.add(lf.name)
