#!/bin/sh
# ENTRYPOINT of textclf/lambda-python:3.13, same contract as the official
# image's /lambda-entrypoint.sh: the handler is the only argument; outside
# Lambda (no AWS_LAMBDA_RUNTIME_API) the bundled emulator serves
# POST http://localhost:8080/2015-03-31/functions/function/invocations.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" >&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
else
  exec "$RUNTIME_ENTRYPOINT"
fi
