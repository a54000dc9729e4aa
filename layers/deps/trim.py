"""Trim an installed layer folder and byte-compile it for Lambda.

Lambda mounts layers read-only under /opt, so Python can never write the
bytecode cache there: without precompiled files every cold start recompiles
every imported module. This removes what no import needs (test suites, caches,
headers and sources of compiled code, type stubs, console scripts, dist-info
beyond METADATA/entry_points.txt, pydantic's v1 copy), then compiles everything with
``unchecked-hash`` invalidation so the interpreter trusts the .pyc without
stat-ing the source.

Usage: python3.13 trim.py LAYER_PYTHON_DIR [--prefix /opt/python]
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import sys
from pathlib import Path

DROP_DIRS = {"tests", "test", "__pycache__", "include", "benchmarks"}
KEEP_DIST_INFO = {"METADATA", "entry_points.txt"}
DROP_SUFFIXES = {".pyi", ".pxd", ".pyx", ".c", ".h", ".hpp", ".cpp", ".f", ".f90", ".a"}
# Packages no import of ours needs. pydantic.v1 is the pydantic 1 compatibility copy:
# FastAPI no longer accepts v1 models and only tries to import it (inside try/except
# ImportError) to recognise and refuse them, which, when it is there, adds the import
# to every cold start (`make bench` measures cold starts; docs/performance-log.md).
DROP_PACKAGES = ("pydantic/v1",)


def trim(root: Path) -> tuple[int, int]:
    before = _size(root)
    for name in ("bin", *DROP_PACKAGES):
        if (root / name).is_dir():
            shutil.rmtree(root / name)
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        if path.is_dir():
            if path.name.endswith(".dist-info"):
                for item in path.iterdir():
                    if item.name not in KEEP_DIST_INFO:
                        shutil.rmtree(item) if item.is_dir() else item.unlink()
            elif path.name in DROP_DIRS:
                shutil.rmtree(path)
        elif path.suffix in DROP_SUFFIXES or path.name in ("py.typed",):
            path.unlink()
    return before, _size(root)


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--prefix", default="/opt/python", help="where the folder is mounted on Lambda")
    args = parser.parse_args()
    before, after = trim(args.root)
    ok = compileall.compile_dir(
        args.root,
        quiet=1,
        workers=0,
        ddir=args.prefix,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        print("error: byte-compilation failed", file=sys.stderr)
        return 1
    print(
        f"trimmed {args.root}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB before bytecode, "
        f"{_size(args.root) / 1e6:.1f} MB with it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
