"""Print one line naming the model the make targets will use (``make model``).

Usage: python scripts/model_info.py [MODEL_DIR]   (default layers/model/model)

Exit code 2 with an ``error:`` line when the manifest cannot be read: the targets that
build or deploy the model stop there instead of shipping a broken folder.
"""

import json
import sys
from pathlib import Path

model_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "layers/model/model")
try:
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    version = manifest["version"]
except (OSError, ValueError, TypeError, KeyError) as exc:
    print(f"error: no readable manifest in {model_dir} ({exc!r}); run `make train`", file=sys.stderr)
    sys.exit(2)
data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
print(
    f"using model {version} in {model_dir} (trained {manifest.get('created_at', '?')} on "
    f"{data.get('file', '?')}); only `make train` replaces it"
)
