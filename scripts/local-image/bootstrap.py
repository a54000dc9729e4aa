"""/var/runtime/bootstrap.py of textclf/lambda-python:3.13: awslambdaric with Lambda's error shape.

awslambdaric (since 1.2.0, 2021) adds a ``requestId`` key to the error document it posts for an
init or handler error: ``{"errorMessage", "errorType", "requestId", "stackTrace"}``. On AWS the
Invoke API marks the failure out of band (``X-Amz-Function-Error: Unhandled``), so the extra key
is harmless there. ``sam local`` has no such header: it decides "error or result?" from the
payload alone, and only a document whose keys are among errorMessage / errorType / stackTrace /
cause (or exactly three keys) counts as an error (samcli/local/services/base_local_service.py,
``LambdaOutputParser.is_lambda_error_response``). With the fourth key a crashing function looks
like a success: ``start-api`` answers 200 with the traceback as the body and ``start-lambda``
reports no ``FunctionError``.

So this runtime posts the document AWS documents for Python function errors
(errorMessage, errorType, stackTrace), and everything else is awslambdaric unchanged.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from awslambdaric import __main__ as ric_main
from awslambdaric import bootstrap

_make_error = bootstrap.make_error


def make_error(
    error_message: Any, error_type: Any, stack_trace: Any, invoke_id: Any = None
) -> dict[str, Any]:
    """awslambdaric's error document without ``requestId`` (see the module docstring)."""
    document: dict[str, Any] = _make_error(error_message, error_type, stack_trace, invoke_id)
    document.pop("requestId", None)
    return document


bootstrap.make_error = make_error  # build_fault_result and the handlers look it up at call time

if __name__ == "__main__":
    # As under `python -m awslambdaric` from WORKDIR /var/task: the function's code comes first on
    # sys.path (a script would otherwise put its own folder, /var/runtime, there).
    sys.path[0] = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    ric_main.main(sys.argv)
