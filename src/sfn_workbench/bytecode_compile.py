"""Run by the target interpreter (``python3.12 bytecode_compile.py ROOT TASK_ROOT``, the paths on stdin):
compile each module to hash-based, unchecked bytecode (PEP 552) whose tracebacks name ``TASK_ROOT``.
Standalone on purpose: it runs under the Lambda runtime's Python, not the workbench's."""

import importlib.util
import json
import py_compile
import sys


def main(root: str, task_root: str) -> None:
    for path in json.load(sys.stdin):
        py_compile.compile(
            path,
            cfile=importlib.util.cache_from_source(path),
            dfile=task_root + path[len(root) :],
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
