"""Run a python_wheel_task: find the entry point in installed metadata, else `package.entry()`."""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.metadata import entry_points


def load_entry_point(package_name: str, entry_point: str):  # type: ignore[no-untyped-def]
    """The callable named `entry_point` of distribution `package_name`."""
    wanted = package_name.replace("-", "_").lower()
    for ep in entry_points(name=entry_point):
        dist = getattr(ep, "dist", None)
        if dist is not None and dist.name.replace("-", "_").lower() == wanted:
            return ep.load()
    module = import_module(package_name.replace("-", "_"))
    try:
        return getattr(module, entry_point)
    except AttributeError:
        raise SystemExit(
            f"python_wheel_task: package {package_name!r} has no entry point {entry_point!r}"
        ) from None


def main() -> None:
    package_name, entry_point, *args = sys.argv[1:]
    func = load_entry_point(package_name, entry_point)
    sys.argv = [entry_point, *args]
    result = func()
    if isinstance(result, int) and not isinstance(result, bool):
        raise SystemExit(result)


if __name__ == "__main__":
    main()
