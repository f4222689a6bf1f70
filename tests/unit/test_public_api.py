"""Public API is what each package's ``__init__`` lists in ``__all__``: every listed name exists,
nothing is listed twice, and every public name defined in the package is listed."""

import importlib
import inspect
import pkgutil

import pytest

import labelloop

OPTIONAL = {"labelloop.server"}  # needs the server extra; imported when installed


def _packages():
    out = ["labelloop"]
    for mod in pkgutil.walk_packages(labelloop.__path__, "labelloop."):
        if mod.ispkg and ".migrations" not in mod.name and not mod.name.startswith("labelloop.cli"):
            out.append(mod.name)
    return out


@pytest.mark.parametrize("name", _packages())
def test_all_is_honest(name):
    try:
        pkg = importlib.import_module(name)
    except ImportError as exc:  # pragma: no cover - optional extras only
        if name in OPTIONAL:
            pytest.skip(f"{name}: {exc}")
        raise
    exported = getattr(pkg, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    for attr in exported:
        assert hasattr(pkg, attr), f"{name}.__all__ lists {attr!r}, which does not exist"
    defined_here = [
        a for a, v in vars(pkg).items()
        if not a.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v)) and getattr(v, "__module__", "").startswith(name)
    ]
    missing = sorted(set(defined_here) - set(exported))
    assert not missing, f"{name} defines public {missing} but does not list them in __all__"
