"""Shared inference package: model loading, scoring, request/response schemas.

Imported the same way by both Lambda functions (from the ``common`` layer at
``/opt/python``) and by training and the tests (``layers/common/python`` is on
the path).
"""
