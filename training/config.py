"""Training options from a TOML file (``--config``), checked key by key.

The options live in a ``[tool.textclf.training]`` table (so ``pyproject.toml``
can hold them), or a ``[training]`` table, or at the top level of a file of
their own. Keys are the long command-line options without the dashes
(``min-accuracy`` or ``min_accuracy``); options given on the command line win.
The file takes every option of ``train`` except ``--config`` itself; relative paths
(``data``, ``test-file``, ``output``) are relative to the folder of the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from training.errors import TrainingError
from training.pipeline import FAMILIES

# key -> accepted Python types (bool is checked before int, as bool is an int)
KEYS: dict[str, tuple[type, ...]] = {
    "data": (str,),
    "output": (str,),
    "test_file": (str,),
    "quiet": (bool,),
    "max_text_chars": (int,),
    "model": (str,),
    "text_column": (str,),
    "label_column": (str,),
    "test_size": (float, int),
    "cv_folds": (int,),
    "time_budget": (float, int),
    "sublinear_tf": (bool,),
    "scoring": (str,),
    "min_accuracy": (float, int),
    "min_macro_f1": (float, int),
    "regression_tolerance": (float, int),
    "n_jobs": (int,),
}
PATHS = ("data", "output", "test_file")
CHOICES: dict[str, tuple[str, ...]] = {"model": FAMILIES, "scoring": ("macro_f1", "accuracy")}


def _table(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    tool = document.get("tool", {})
    if isinstance(tool, dict) and isinstance(tool.get("textclf"), dict) and "training" in tool["textclf"]:
        return tool["textclf"]["training"], "[tool.textclf.training]"
    if isinstance(document.get("training"), dict):
        return document["training"], "[training]"
    return {k: v for k, v in document.items() if k != "tool"}, "the top level"


def load_config(path: Path) -> dict[str, Any]:
    """The training options in ``path``, with keys normalised to ``snake_case``."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except FileNotFoundError:
        raise TrainingError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingError(f"{path}: cannot read the config file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrainingError(f"{path}: not valid TOML ({exc})") from None
    table, where = _table(document)
    if not isinstance(table, dict):
        raise TrainingError(f"{path}: {where} is not a table")
    options: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key in options:
            raise TrainingError(f"{path}: option {raw_key!r} is set twice in {where} (with - and with _)")
        if key not in KEYS:
            raise TrainingError(
                f"{path}: unknown option {raw_key!r} in {where} (known: {', '.join(sorted(KEYS))})"
            )
        types = KEYS[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise TrainingError(f"{path}: option {raw_key!r} must be a {wanted}, got {value!r}")
        if key in CHOICES and value not in CHOICES[key]:
            raise TrainingError(f"{path}: option {raw_key!r} must be one of {', '.join(CHOICES[key])}")
        if key in PATHS:
            options[key] = path.parent / str(value)
        else:
            options[key] = float(value) if float in types and isinstance(value, int | float) else value
    return options
