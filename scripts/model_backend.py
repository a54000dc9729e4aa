"""Print the template's ModelBackend value for a model folder: ``lean`` or ``joblib``.

``lean`` when training exported a lean artefact that passed the parity check,
so the scikit-learn layer can stay out of the deployment.

Usage: python scripts/model_backend.py [MODEL_DIR]   (default layers/model/model)
"""

import json
import sys
from pathlib import Path

model_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "layers/model/model")
try:
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
except (OSError, ValueError) as exc:
    print(f"error: no readable manifest in {model_dir} ({exc}); run `make train` first", file=sys.stderr)
    sys.exit(2)
print("lean" if "lean" in manifest.get("backends", {}) else "joblib")
