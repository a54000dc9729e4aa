"""The lean backend: a linear text classifier scored with NumPy alone.

Training (``training/export_lean.py``) writes the fitted scikit-learn pipeline as
pure data next to the joblib file: ``lean.json`` (analyzer settings, intercepts,
calibration; :class:`~textclf.backends.lean.spec.LeanSpec`), one vocabulary text file
per vectorizer, and ``.npy`` arrays (IDF, coefficients) read with
``allow_pickle=False``. Nothing here can execute code from the model folder, and
neither scikit-learn nor SciPy is imported, so a deployment that only has this
backend stays small and starts fast.

The parts, in the order a text goes through them:

- :mod:`.analysis`: text -> columns, following scikit-learn exactly (same
  preprocessing, same n-grams, so the same columns with the same counts);
- :mod:`.table`: the folded table (:class:`DecisionTable`), columns -> decision
  values. IDF, vectorizer weights and norms are folded into the coefficients, so sums
  run in another order than scikit-learn's and scores move by about 1e-16;
- :mod:`.head`: decision values -> scores (intercepts, links, calibration);
- :mod:`.predictor` and :mod:`.loading`: the :class:`LeanPredictor` and how it is built
  from a verified model folder; :mod:`.spec`: the ``lean.json`` contract.

Training refuses to ship the lean files unless both scoring paths (texts together,
and one text per call) reproduce the pipeline's labels exactly and its scores to
within 1e-9. Many texts are counted together with one sort of (text, column) keys,
then gathered and summed per (text, block) with ``np.add.reduceat``; one text (the
API's case) skips the sort, counting its columns in a scratch array, and with few
classes its norms and head run on Python floats (see ``head.ROW_MAX_OUTPUTS``).
"""

from textclf.backends.lean.analysis import Vectorizer
from textclf.backends.lean.head import Head
from textclf.backends.lean.loading import load
from textclf.backends.lean.predictor import LeanPredictor
from textclf.backends.lean.spec import FORMAT, SPEC_NAME, LeanSpec, VectorizerSettings, VectorizerSpec
from textclf.backends.lean.table import DecisionTable
from textclf.errors import BackendUnavailableError, ModelLoadError

__all__ = [
    "FORMAT",
    "SPEC_NAME",
    "BackendUnavailableError",
    "DecisionTable",
    "Head",
    "LeanPredictor",
    "LeanSpec",
    "ModelLoadError",
    "Vectorizer",
    "VectorizerSettings",
    "VectorizerSpec",
    "load",
]
