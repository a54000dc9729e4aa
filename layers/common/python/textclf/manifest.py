"""The model manifest: what a model folder holds, and how to check it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from textclf.errors import IntegrityError, ManifestError

MANIFEST_NAME = "manifest.json"
CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def model_version(file_hashes: dict[str, str]) -> str:
    """Content hash of a model: the SHA-256 of its files' names and hashes, 16 hex digits."""
    digest = hashlib.sha256()
    for name in sorted(file_hashes):
        digest.update(f"{name}\0{file_hashes[name]}\n".encode())
    return digest.hexdigest()[:16]


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """Parse ``manifest.json`` in ``model_dir`` and check its required keys."""
    path = model_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(
            f"no model at {model_dir}: {MANIFEST_NAME} is missing "
            "(train one with `python -m training train` or set MODEL_DIR)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path}: expected a JSON object")
    missing = [k for k in ("version", "classes", "files", "backends") if k not in manifest]
    if missing:
        raise ManifestError(f"{path}: missing keys {', '.join(missing)}")
    return manifest


def verify_files(model_dir: Path, manifest: dict[str, Any], names: list[str]) -> None:
    """Check each named file against the SHA-256 recorded in the manifest.

    Run before anything is deserialised, so that only files written by our own
    training build are ever loaded (a pickle can execute code).
    """
    files: dict[str, Any] = manifest["files"]
    for name in names:
        entry = files.get(name)
        if not isinstance(entry, dict) or "sha256" not in entry:
            raise IntegrityError(f"{name} is not listed in the manifest of {model_dir}")
        path = model_dir / name
        if not path.is_file():
            raise IntegrityError(f"{path} is missing")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise IntegrityError(
                f"{path} does not match its manifest hash (expected {entry['sha256'][:12]}..., "
                f"got {actual[:12]}...): refusing to load it"
            )
