"""Label schema: single-label classes, or multi-label tags with a taxonomy.

A :class:`Taxonomy` maps aliases to canonical tags and adds every ancestor of a tag
(a child implies its parents, transitively). It rejects cycles, naming them, and applies an
unknown-tag policy (keep / drop / error). The same object is applied on import and on every
vote, so a label is canonical wherever it is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from labelloop.exceptions import InputError, SchemaError, TaxonomyCycleError, TaxonomyError

_SPACES = re.compile(r"[\s_]+")


def normalize_tag(tag: str) -> str:
    """Canonical spelling used for matching: lower case, spaces/underscores -> '-'."""
    return _SPACES.sub("-", str(tag).strip().lower())


class UnknownPolicy(StrEnum):
    KEEP = "keep"
    DROP = "drop"
    ERROR = "error"


class TaskType(StrEnum):
    SINGLE = "single"
    MULTI = "multi"


class DataType(StrEnum):
    TEXT = "text"
    IMAGE = "image"


@dataclass
class Taxonomy:
    """Tags with aliases and parents. Build with :meth:`from_records` or :meth:`load`."""

    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> canonical
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], *, source: str = "taxonomy") -> Taxonomy:
        parents: dict[str, tuple[str, ...]] = {}
        aliases: dict[str, str] = {}
        for i, rec in enumerate(records):
            if not isinstance(rec, Mapping) or "tag" not in rec:
                raise TaxonomyError(f"{source}: entry {i} has no 'tag' field: {rec!r}")
            tag = normalize_tag(rec["tag"])
            if not tag:
                raise TaxonomyError(f"{source}: entry {i} has an empty tag")
            if tag in parents:
                raise TaxonomyError(f"{source}: tag '{tag}' is defined twice")
            ps = rec.get("parents") or []
            al = rec.get("aliases") or []
            if not isinstance(ps, list) or not isinstance(al, list):
                raise TaxonomyError(f"{source}: tag '{tag}': 'parents' and 'aliases' must be lists")
            parents[tag] = tuple(dict.fromkeys(normalize_tag(p) for p in ps if str(p).strip()))
            for a in al:
                a = normalize_tag(a)
                if a and a != tag:
                    if a in aliases and aliases[a] != tag:
                        raise TaxonomyError(
                            f"{source}: alias '{a}' points to both '{aliases[a]}' and '{tag}'"
                        )
                    aliases[a] = tag
        # parents that are not defined themselves become root tags
        for ps in list(parents.values()):
            for p in ps:
                parents.setdefault(p, ())
        for a, tag in aliases.items():
            if a in parents:
                raise TaxonomyError(f"{source}: '{a}' is both a tag and an alias of '{tag}'")
        tax = cls(parents=parents, aliases=aliases)
        tax._ancestors = tax._compute_ancestors()
        return tax

    @classmethod
    def load(cls, path_or_url: str | Path) -> Taxonomy:
        """Load a ``[{tag, aliases[], parents[]}]`` JSON file from a path or URL."""
        from labelloop.io.sources import read_bytes

        raw = read_bytes(path_or_url)
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(f"taxonomy is not valid UTF-8 ({exc.reason} at byte {exc.start})", path=path_or_url) from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"taxonomy is not valid JSON: {exc.msg}", path=path_or_url, line=exc.lineno) from exc
        if isinstance(data, Mapping):  # also accept {tag: {aliases, parents}}
            data = [{"tag": k, **(v or {})} for k, v in data.items()]
        if not isinstance(data, list):
            raise TaxonomyError(f"{path_or_url}: expected a JSON list of {{tag, aliases, parents}}")
        return cls.from_records(data, source=str(path_or_url))

    def to_records(self) -> list[dict[str, Any]]:
        inv: dict[str, list[str]] = {}
        for a, t in self.aliases.items():
            inv.setdefault(t, []).append(a)
        return [
            {"tag": t, "aliases": sorted(inv.get(t, [])), "parents": list(ps)}
            for t, ps in sorted(self.parents.items())
        ]

    def _compute_ancestors(self) -> dict[str, frozenset[str]]:
        """Transitive closure by DFS; a back edge is a cycle, reported with its path."""
        state: dict[str, int] = {}  # 1 = on stack, 2 = done
        result: dict[str, frozenset[str]] = {}

        def visit(tag: str, stack: list[str]) -> frozenset[str]:
            st = state.get(tag)
            if st == 2:
                return result[tag]
            if st == 1:
                start = stack.index(tag)
                raise TaxonomyCycleError(stack[start:] + [tag])
            state[tag] = 1
            stack.append(tag)
            acc: set[str] = set()
            for p in self.parents.get(tag, ()):
                acc.add(p)
                acc |= visit(p, stack)
            stack.pop()
            state[tag] = 2
            result[tag] = frozenset(acc)
            return result[tag]

        import sys

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 10 * len(self.parents) + 100))
        try:
            for t in self.parents:
                visit(t, [])
        finally:
            sys.setrecursionlimit(limit)
        return result

    # ------------------------------------------------------------------ queries
    @property
    def tags(self) -> list[str]:
        return sorted(self.parents)

    def __contains__(self, tag: str) -> bool:
        return self.canonical(tag) is not None

    def __len__(self) -> int:
        return len(self.parents)

    def canonical(self, tag: str) -> str | None:
        """The canonical tag for a tag or alias, or None if unknown."""
        t = normalize_tag(tag)
        if t in self.parents:
            return t
        return self.aliases.get(t)

    def ancestors(self, tag: str) -> frozenset[str]:
        c = self.canonical(tag)
        return self._ancestors.get(c, frozenset()) if c else frozenset()

    def children(self, tag: str) -> list[str]:
        c = self.canonical(tag)
        return sorted(t for t, ps in self.parents.items() if c in ps)

    def expand(self, tags: Iterable[str], *, unknown: UnknownPolicy | str = UnknownPolicy.KEEP) -> list[str]:
        """Canonicalise tags, add all ancestors, apply the unknown-tag policy.

        Returns a sorted, de-duplicated list.
        """
        policy = UnknownPolicy(unknown)
        out: set[str] = set()
        for tag in tags:
            c = self.canonical(tag)
            if c is None:
                if policy is UnknownPolicy.ERROR:
                    raise SchemaError(
                        f"unknown tag '{tag}' (not a tag or alias in the taxonomy); "
                        "use --unknown keep or drop to accept or ignore such tags"
                    )
                if policy is UnknownPolicy.KEEP:
                    n = normalize_tag(tag)
                    if n:
                        out.add(n)
                continue
            out.add(c)
            out |= self._ancestors.get(c, frozenset())
        return sorted(out)

    def check(self) -> dict[str, Any]:
        """Summary used by ``labelloop taxonomy check`` (cycles already raised at load)."""
        roots = [t for t, ps in self.parents.items() if not ps]
        depth = {t: len(a) for t, a in self._ancestors.items()}
        return {
            "tags": len(self.parents),
            "aliases": len(self.aliases),
            "with_parents": sum(1 for ps in self.parents.values() if ps),
            "roots": len(roots),
            "max_depth": max(depth.values(), default=0),
        }


@dataclass
class LabelSchema:
    """What a project's labels may be.

    ``task`` single: ``classes`` is the ordered class list (index = integer class code).
    ``task`` multi: ``classes`` is the tag list; ``taxonomy`` optional.
    An empty class list means "learn from imported labels".
    """

    task: TaskType = TaskType.SINGLE
    classes: list[str] = field(default_factory=list)
    taxonomy: Taxonomy | None = None
    unknown: UnknownPolicy = UnknownPolicy.KEEP

    def __post_init__(self):
        self.task = TaskType(self.task)
        self.unknown = UnknownPolicy(self.unknown)
        self.classes = [str(c) for c in self.classes]
        if len(set(self.classes)) != len(self.classes):
            raise SchemaError(f"duplicate class names in schema: {self.classes}")

    @property
    def is_multi(self) -> bool:
        return self.task is TaskType.MULTI

    def code(self, label: str) -> int:
        try:
            return self.classes.index(label)
        except ValueError:
            raise SchemaError(f"label '{label}' is not one of the classes {self.classes}") from None

    def normalize(self, value: Any, *, learn: bool = True) -> Any:
        """Validate/canonicalise one vote value: a class (single) or list of tags (multi).

        With ``learn`` and the project's unknown policy ``keep``, new labels are appended to
        ``classes`` (the schema is learned from imported labels).
        """
        if self.is_multi:
            tags = _as_tag_list(value)
            if self.taxonomy is not None:
                tags = self.taxonomy.expand(tags, unknown=self.unknown)
            else:
                tags = sorted({normalize_tag(t) for t in tags if str(t).strip()})
            known = set(self.classes)
            kept = []
            for t in tags:
                if t in known or (self.taxonomy is not None and t in self.taxonomy.parents):
                    kept.append(t)
                elif self.unknown is UnknownPolicy.ERROR and self.classes:
                    raise SchemaError(f"unknown tag '{t}'; known tags: {', '.join(self.classes[:20])}...")
                elif self.unknown is UnknownPolicy.DROP and self.classes:
                    continue
                else:
                    kept.append(t)
            if learn:
                for t in kept:
                    if t not in known:
                        self.classes.append(t)
                        known.add(t)
            return kept
        if isinstance(value, (list, tuple, set)):
            raise SchemaError(f"single-label project got several labels {list(value)!r}")
        label = str(value).strip()
        if not label:
            raise SchemaError("empty label")
        if self.taxonomy is not None:
            label = self.taxonomy.canonical(label) or label
        if label not in self.classes:
            if self.classes and self.unknown is UnknownPolicy.ERROR:
                raise SchemaError(f"label '{label}' is not one of the classes {self.classes}")
            if self.classes and self.unknown is UnknownPolicy.DROP:
                return None
            if learn:
                self.classes.append(label)
            elif self.classes:
                raise SchemaError(f"label '{label}' is not one of the classes {self.classes}")
        return label

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task.value,
            "classes": list(self.classes),
            "unknown": self.unknown.value,
            "taxonomy": self.taxonomy.to_records() if self.taxonomy is not None else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LabelSchema:
        tax = d.get("taxonomy")
        return cls(
            task=d.get("task", "single"),
            classes=list(d.get("classes") or []),
            unknown=d.get("unknown", "keep"),
            taxonomy=Taxonomy.from_records(tax) if tax else None,
        )


def _as_tag_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                parsed = json.loads(s)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                return [str(x) for x in parsed]
        # a single string of tags: comma, semicolon or pipe separated
        return [p for p in re.split(r"[,;|]", s) if p.strip()]
    if isinstance(value, Iterable):
        return [str(x) for x in value]
    return [str(value)]
