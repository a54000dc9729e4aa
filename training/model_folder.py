"""Writing a model folder (``OUTPUT/model/``: what the model layer ships) atomically, with its
manifest (:class:`textclf.manifest.Manifest`, the class serving reads it with)."""

from __future__ import annotations

import platform
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from textclf.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    Backends,
    FileEntry,
    JoblibBackend,
    Manifest,
    model_version,
    score_kind,
)
from training.errors import TrainingError
from training.export_lean import LeanExport

LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        versions[name] = metadata.version(name)
    return versions


def make_deterministic(pipeline: Any) -> None:
    """Drop run-specific state so that the same fit always pickles to the same bytes.

    Text vectorizers cache ``id(stop_words)`` (a memory address) as
    ``_stop_words_id``; scikit-learn recomputes it when absent.
    """
    estimators = [pipeline, *pipeline.get_params(deep=True).values()]
    for est in estimators:
        if hasattr(est, "_stop_words_id"):
            del est._stop_words_id


# (folder, manifest as a JSON object): writes report files, may add to the manifest's records
ReportWriter = Callable[[Path, dict[str, Any]], None]


def _listing(paths: list[Path]) -> dict[str, FileEntry]:
    return {p.name: FileEntry.of(p) for p in sorted(paths)}


def write_model_folder(
    output: Path,
    pipeline: Any,
    manifest_extra: dict[str, Any],
    lean: LeanExport | None = None,
    write_reports: ReportWriter | None = None,
) -> Manifest:
    """Write ``output/model/`` (joblib pipeline, lean artefact if any, reports, manifest) in one step.

    ``lean`` is the result of :func:`training.export_lean.export_lean`: its files are
    copied in and listed as the ``lean`` backend when its parity check passed;
    otherwise ``backends.lean_unavailable`` records why the model ships without it.

    ``files`` lists the model files and ``version`` is their content hash.
    ``write_reports(folder, manifest)`` may then add human-readable files (plots,
    model card); they are listed with their SHA-256 under ``reports`` but do not
    count toward the version, which changes only when the model itself does.
    The manifest is validated as :class:`Manifest` before anything is swapped in,
    so a folder serving cannot read is never written.

    Everything is written into a temporary folder beside the target and swapped in
    by renames, so a failure never leaves a half-written model, and readers see
    either the old model or the new one.
    """
    target = output / "model"
    try:
        output.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".model-", dir=output))
    except OSError as exc:
        raise TrainingError(f"cannot write the model folder {target}: {exc.strerror or exc}") from None
    make_deterministic(pipeline)
    try:
        joblib.dump(pipeline, staging / "model.joblib", compress=3)
        backends: dict[str, Any] = {"joblib": JoblibBackend(file="model.joblib")}
        if lean is not None and lean.backend is not None and lean.directory is not None:
            for name in lean.files:
                shutil.copyfile(lean.directory / name, staging / name)
            backends["lean"] = lean.backend
        elif lean is not None and lean.unavailable is not None:
            backends["lean_unavailable"] = lean.unavailable
        files = _listing([p for p in staging.iterdir() if p.is_file()])
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            version=model_version({name: f.sha256 for name, f in files.items()}),
            classes=[str(c) for c in pipeline.classes_],
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            libraries=library_versions(),
            files=files,
            backends=Backends(**backends),
            score_kind=score_kind(pipeline),
            **manifest_extra,
        )
        if write_reports is not None:
            record = manifest.to_json()
            write_reports(staging, record)
            record["reports"] = {
                name: entry.model_dump()
                for name, entry in _listing(
                    [p for p in staging.iterdir() if p.is_file() and p.name not in files]
                ).items()
            }
            manifest = Manifest.parse(record, "the manifest being written")
        (staging / MANIFEST_NAME).write_text(manifest.dumps(), encoding="utf-8")
        _swap_in(staging, target)
    except OSError as exc:  # a full disk, a folder that became read-only: one line, nothing half-written
        shutil.rmtree(staging, ignore_errors=True)
        raise TrainingError(f"cannot write the model folder {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _swap_in(staging: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{staging.name}")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
