"""The fan-out state machine of template.yaml, run by moto's Step Functions interpreter.

moto 5 executes ASL (Distributed Map, ``ItemReader`` from S3, Retry/Catch) when started as
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``. Its Lambda backend does
not run code without Docker, so this module routes the interpreter's Lambda invocations to this
project's handlers, in this process:

**The shim** (:class:`LambdaShim`) replaces the one function the interpreter calls to invoke a
Lambda task (``moto.stepfunctions.parser...lambda_eval_utils._invoke_lambda_function``). It looks
up the function's ``Handler`` in template.yaml by the logical id in the ARN, calls it with the
task's payload and a Lambda context, and answers as the Lambda ``Invoke`` API does: the return
value as ``Payload``, or ``FunctionError: Unhandled`` with ``errorType``/``errorMessage`` when the
handler raises (so ``Retry``/``Catch`` on error names work as in AWS). A test can inject a Lambda
*service* error (``TooManyRequestsException`` and the like), which the interpreter turns into
``Lambda.<Code>`` as Step Functions does. Everything else is real: the definition file with the
template's ``DefinitionSubstitutions``, the S3 client calls, the handlers.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.cfn import load_template
from tests.helpers import ROOT, LambdaContext

ACCOUNT, REGION = "123456789012", "us-east-1"
Fault = Callable[[str, dict[str, Any]], None]


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"


def state_machine_resource() -> dict[str, Any]:
    resource: dict[str, Any] = load_template()["Resources"]["BatchFanoutStateMachine"]
    return resource


def definition() -> str:
    """The definition file the template names, with its substitutions made (function ARNs)."""
    props = state_machine_resource()["Properties"]
    text = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
    for name, value in props["DefinitionSubstitutions"].items():
        logical_id = value["GetAtt"].split(".")[0] if isinstance(value["GetAtt"], str) else value["GetAtt"][0]
        text = text.replace("${" + name + "}", function_arn(logical_id))
    assert "${" not in text, "a substitution the template does not define"
    return text


def service_error(code: str, status: int = 429) -> ClientError:
    """A Lambda service error as botocore raises it (the interpreter names it ``Lambda.<code>``)."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected by the test"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "test"},
        },
        "Invoke",
    )


class LambdaShim:
    """Routes the interpreter's Lambda invocations to the template's handlers (see the module)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fault: Fault | None = None
        self.current = threading.local()  # which function this thread is running (for S3 call checks)
        self._lock = threading.Lock()
        functions = {
            k: r for k, r in load_template()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
        }
        self.handlers: dict[str, str] = {k: r["Properties"]["Handler"] for k, r in functions.items()}

    def handler(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        module, _, name = self.handlers[logical_id].rpartition(".")
        function: Callable[[dict[str, Any], Any], Any] = getattr(importlib.import_module(module), name)
        return function

    def invoke(self, parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        logical_id = str(parameters["FunctionName"]).rsplit(":", 1)[-1]
        payload = json.loads(parameters.get("Payload") or b"{}")
        with self._lock:
            self.calls.append((logical_id, payload))
        if self.fault is not None:
            self.fault(logical_id, payload)  # may raise a service error (ClientError)
        context = LambdaContext(function_name=logical_id, invoked_function_arn=function_arn(logical_id))
        self.current.function = logical_id
        try:
            result = self.handler(logical_id)(payload, context)
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": error}
        finally:
            self.current.function = None
        return {"StatusCode": 200, "Payload": json.loads(json.dumps(result)), "ExecutedVersion": "$LATEST"}

    def install(self, monkeypatch: Any) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", self.invoke)
