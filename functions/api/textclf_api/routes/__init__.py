"""The API's routers, one per concern: :mod:`.predictions` (``/predict``, ``/predict/batch``),
:mod:`.model` (``/health``, ``/model``) and :mod:`.docs` (``/docs``, ``/redoc``, their assets)."""
