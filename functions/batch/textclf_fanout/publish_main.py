"""Lambda handler of the fan-out's last step (``textclf_fanout.publish_main.handler``).

Thin: merges and publishes the ranges (:func:`textclf_fanout.steps.merge`) or, when the event
carries a ``failure``, publishes the failed summary (:func:`textclf_fanout.steps.record_failure`);
emits the file's metrics as the batch function does. Settings, the model (for the summary's model
version) and the S3 client are made once per container, here at import.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from textclf.model import get_predictor
from textclf.settings import get_settings
from textclf_batch.metrics import emit_batch_file
from textclf_fanout import steps
from textclf_fanout.startup import start_step

logger, s3 = start_step()
settings = get_settings()  # read once: a bad value fails the init, not each event
predictor = get_predictor(settings)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"job", "execution_arn"}`` or ``{"input", "failure", "job_id", "execution_arn"}`` -> the
    published summary's status, outputs, rows and error."""
    if "failure" in event:
        summary = steps.record_failure(s3, predictor, event, settings, event["execution_arn"])
    else:
        summary = steps.merge(s3, predictor, event, settings, event["execution_arn"])
    emit_batch_file(summary)
    return summary.result()
