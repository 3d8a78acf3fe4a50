"""Installed size of a distribution and everything it requires, in this interpreter's environment.

    python dist_size.py tensorflow-cpu

Prints JSON: total bytes, and bytes per distribution, from each one's RECORD (the
files pip installed, bytecode included), following Requires-Dist whose markers
hold here, extras not requested left out.
"""

import contextlib
import json
import re
import sys
from importlib import metadata
from pathlib import Path


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str) -> dict[str, metadata.Distribution]:
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    pending = [root]
    while pending:
        name = normalise(pending.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker does not hold here was never installed
        found[name] = dist
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return found


def size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        with contextlib.suppress(OSError):  # listed in RECORD but since removed
            total += Path(str(dist.locate_file(file))).stat().st_size
    return total


def main() -> None:
    dists = closure(sys.argv[1])
    sizes = {name: size(dist) for name, dist in dists.items()}
    ranked = dict(sorted(sizes.items(), key=lambda kv: -kv[1]))
    print(json.dumps({"root": sys.argv[1], "total_bytes": sum(sizes.values()), "distributions": ranked}))


if __name__ == "__main__":
    main()
