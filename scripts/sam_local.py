"""Run ``sam local`` for the Makefile's targets, so that what a developer sees is what AWS does.

``sam local`` on its own misleads in three ways this wrapper removes:

- **The caller's shell wins over the template.** For every variable a function declares
  (``MODEL_DIR``, ``MAX_TEXT_CHARS``, ...), ``sam local`` passes the caller's exported value, if
  any, instead of the template's. Those variables are removed from the environment ``sam`` gets
  (a note names them); set one on purpose with an ``--env-vars`` file (``ENV_VARS=env.json``).
- **Command-line parameter overrides replace samconfig's.** ``--parameter-overrides`` given on
  the command line replaces ``samconfig.toml``'s whole list; here samconfig's list, the model's
  ``ModelBackend`` and the caller's ``PARAMS`` are merged (later ones win) and passed together.
- **``sam local invoke`` exits 0 when the function fails.** ``invoke`` exits 1 and prints the
  error type and message when the function's answer is an error document (init or handler).

Commands (paths may contain spaces; every argument is passed as a list, never through a shell):

    invoke FUNCTION --event FILE         one invocation; the answer on stdout
    start-api | start-lambda --port N     the emulators on 127.0.0.1 (replaces this process)
    s3 FILE                               BatchFunction on FILE against a local moto S3 (see below)

Common options: ``--template`` (the built local template), ``--model-backend``, ``--params
"Name=Value ..."``, ``--env-vars FILE``, ``--image`` (the Lambda base image).

``s3`` starts a moto server on the Docker bridge's address (scripts/docker_bridge.py; never
0.0.0.0), creates a bucket, uploads FILE under ``incoming/``, invokes ``BatchFunction`` with the
matching S3 put event (``AWS_ENDPOINT_URL`` points the function at moto), prints the outputs
under ``predictions/`` with their first lines, and stops the server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import socket
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMCONFIG = ROOT / "samconfig.toml"
DEFAULT_IMAGE = "textclf/lambda-python:3.13"
S3_EVENT = ROOT / "tests" / "events" / "s3-put.json"
LOCAL_BUCKET = "textclf-local-data"
# samconfig.toml section of each sam local command
SAMCONFIG_SECTIONS = {
    "invoke": "local_invoke",
    "start-api": "local_start_api",
    "start-lambda": "local_start_lambda",
}
ENV_VARS_HINT = "set a function variable on purpose with an --env-vars file: make invoke ENV_VARS=env.json"


class UsageError(Exception):
    """A problem with what the caller asked for: one line to print, exit code 2."""


# ----------------------------------------------------------------- pure helpers ----


def declared_variables(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Environment variables each function declares (Globals included), by logical id."""
    common = set(
        (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables")
        or {}
    )
    functions: dict[str, set[str]] = {}
    for name, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            own = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            functions[name] = common | set(own)
    return functions


def clean_environment(environ: Mapping[str, str], names: set[str]) -> tuple[dict[str, str], list[str]]:
    """(environment without ``names``, the names that were set and are now removed)."""
    removed = sorted(name for name in names if name in environ)
    return {k: v for k, v in environ.items() if k not in names}, removed


def parse_overrides(text: str) -> dict[str, str]:
    """``Name=Value Name2="a value"`` (SAM's --parameter-overrides shorthand) as a dict, in order."""
    pairs: dict[str, str] = {}
    for item in shlex.split(text):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"parameter override {item!r} is not Name=Value")
        pairs[name] = value
    return pairs


def format_overrides(pairs: Mapping[str, str]) -> str:
    """The dict back as one ``--parameter-overrides`` value (values with spaces quoted)."""
    return " ".join(
        f'{k}="{v}"' if (not v or any(c.isspace() for c in v)) else f"{k}={v}" for k, v in pairs.items()
    )


def samconfig_overrides(command: str, samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """The parameter_overrides samconfig.toml gives ``sam local COMMAND`` (default environment)."""
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    section = (config.get("default") or {}).get(SAMCONFIG_SECTIONS[command]) or {}
    value = (section.get("parameters") or {}).get("parameter_overrides") or ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return parse_overrides(str(value))


def merged_overrides(command: str, model_backend: str | None, params: str) -> dict[str, str]:
    """samconfig's overrides, then ModelBackend, then the caller's PARAMS (later ones win)."""
    merged = samconfig_overrides(command)
    if model_backend:
        merged["ModelBackend"] = model_backend
    merged.update(parse_overrides(params))
    return merged


def error_document(stdout: str) -> dict[str, Any] | None:
    """The Lambda error document the function answered with, or None when it answered normally.

    ``sam local invoke`` prints the function's answer as the last line of stdout. An error is a
    JSON object with ``errorMessage`` and ``errorType`` (what Lambda returns with
    ``X-Amz-Function-Error``); a proxy result or any other value is not.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        answer = json.loads(lines[-1])
    except ValueError:
        return None
    if isinstance(answer, dict) and {"errorMessage", "errorType"} <= set(answer):
        return answer
    return None


def s3_put_event(bucket: str, key: str, size: int, etag: str, version_id: str | None) -> dict[str, Any]:
    """The S3 ObjectCreated:Put notification for one object (from tests/events/s3-put.json)."""
    event: dict[str, Any] = json.loads(S3_EVENT.read_text(encoding="utf-8"))
    s3 = event["Records"][0]["s3"]
    s3["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    s3["object"].update(key=quote_plus(key, safe="/"), size=size, eTag=etag.strip('"'))
    if version_id:
        s3["object"]["versionId"] = version_id
    else:
        s3["object"].pop("versionId", None)
    return event


# ------------------------------------------------------------------- commands ----


def load_built_template(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"{path} not found: run `make local-template` (the Makefile targets do)")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a template")
    return data


def sam_command(args: argparse.Namespace, command: str, *extra: str) -> list[str]:
    """``sam local COMMAND`` with the template, config, image and the merged parameter overrides."""
    argv = [
        args.sam,
        "local",
        command,
        *extra,
        "--config-file",
        str(SAMCONFIG),
        "--template-file",
        str(args.template),
        "--invoke-image",
        args.image,
        "--skip-pull-image",
        "--parameter-overrides",
        format_overrides(merged_overrides(command, args.model_backend, args.params)),
    ]
    if args.env_vars:
        argv += ["--env-vars", str(args.env_vars)]
    # --parameter-overrides takes several values: nothing positional may follow it
    return argv


def say_model(args: argparse.Namespace) -> None:
    """One stderr line naming the model the functions will load (as the other make targets do)."""
    try:
        manifest = json.loads((args.model_dir / "manifest.json").read_text(encoding="utf-8"))
        print(
            f"using model {manifest['version']} in {args.model_dir} (ModelBackend={args.model_backend}); "
            "only `make train` replaces it",
            file=sys.stderr,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"no readable model manifest in {args.model_dir} ({exc}); run `make train`"
        ) from None


def sam_environment(template: Mapping[str, Any], quiet: bool = False) -> dict[str, str]:
    """This process's environment without any variable a function declares (see the docstring)."""
    names = set().union(*declared_variables(template).values())
    env, removed = clean_environment(os.environ, names)
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if removed and not quiet:
        print(
            f"note: not passing {', '.join(removed)} from your shell to the function "
            f"(sam local would let it override the template); {ENV_VARS_HINT}",
            file=sys.stderr,
        )
    return env


def run_invoke(args: argparse.Namespace, template: Mapping[str, Any], env: Mapping[str, str]) -> int:
    """One ``sam local invoke``: print the answer; exit 1 when it is an error document."""
    result = subprocess.run(
        sam_command(args, "invoke", args.function, "--event", str(args.event)),
        env=dict(env),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    sys.stdout.write(
        result.stdout if result.stdout.endswith("\n") or not result.stdout else result.stdout + "\n"
    )
    sys.stdout.flush()
    if result.returncode != 0:
        print(f"error: sam local invoke exited with {result.returncode}", file=sys.stderr)
        return result.returncode
    error = error_document(result.stdout)
    if error is not None:
        print(
            f"error: {args.function} failed: {error['errorType']}: {error['errorMessage']}", file=sys.stderr
        )
        return 1
    return 0


def invoke(args: argparse.Namespace) -> int:
    template = load_built_template(args.template)
    functions = declared_variables(template)
    if args.function not in functions:
        raise UsageError(f"no function {args.function!r} in the template (functions: {', '.join(functions)})")
    if args.function == "BatchFunction" and not args.env_vars:
        raise UsageError(
            "BatchFunction reads and writes S3, which `make invoke` does not provide. "
            "Run it on a file against a local S3 (moto) instead: make local-s3 FILE=my.csv"
        )
    if not args.event.is_file():
        raise UsageError(f"event file {args.event} not found")
    say_model(args)
    return run_invoke(args, template, sam_environment(template))


def serve(args: argparse.Namespace) -> int:
    template = load_built_template(args.template)
    say_model(args)
    env = sam_environment(template)
    argv = sam_command(args, args.command, "--host", "127.0.0.1", "--port", str(args.port))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)  # Ctrl-C reaches sam directly; it stops its containers


def first_lines(data: bytes, count: int) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[:count]


def local_s3(args: argparse.Namespace) -> int:
    """BatchFunction on one file against a moto S3 server reachable from the container."""
    import boto3
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(ROOT / "scripts"))
    from docker_bridge import BridgeGatewayError, bridge_gateway

    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"{source} is not a file (make local-s3 FILE=path/to/file.csv)")
    if not source.name.endswith((".csv", ".csv.gz", ".jsonl", ".jsonl.gz")):
        raise UsageError(
            f"{source.name}: BatchFunction scores .csv, .csv.gz, .jsonl and .jsonl.gz files "
            "(the template's S3 notification filters)"
        )
    template = load_built_template(args.template)
    if "BatchFunction" not in declared_variables(template):
        raise UsageError(f"no BatchFunction in {args.template}")
    say_model(args)
    try:
        host = bridge_gateway()
    except (BridgeGatewayError, OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"no Docker bridge address for the S3 server: {exc}") from None
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    endpoint = f"http://{host}:{port}"

    # The function gets AWS_ENDPOINT_URL from a copy of the template that declares it (sam local
    # lets --env-vars set only declared variables) and fake credentials from sam's environment.
    s3_template = dict(template)
    resources = dict(s3_template["Resources"])
    batch = json.loads(json.dumps(resources["BatchFunction"]))
    batch.setdefault("Properties", {}).setdefault("Environment", {}).setdefault("Variables", {})
    batch["Properties"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"] = endpoint
    resources["BatchFunction"] = batch
    s3_template["Resources"] = resources
    template_path = args.template.with_name("template.s3.yaml")
    template_path.write_text(yaml.safe_dump(s3_template, sort_keys=False), encoding="utf-8")

    env = sam_environment(template)
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(name, None)
    env.update(credentials)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per S3 request
    print(f"[local-s3] moto S3 server on {endpoint} (reachable from the Lambda container only via docker0)")
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=credentials["AWS_DEFAULT_REGION"],
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket=LOCAL_BUCKET)
        s3.put_bucket_versioning(Bucket=LOCAL_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        key = f"incoming/{source.name}"
        body = source.read_bytes()
        put = s3.put_object(Bucket=LOCAL_BUCKET, Key=key, Body=body)
        print(f"[local-s3] uploaded {source} to s3://{LOCAL_BUCKET}/{key} ({len(body)} bytes)")
        event_path = args.template.with_name("event.s3.json")
        event = s3_put_event(LOCAL_BUCKET, key, len(body), put["ETag"], put.get("VersionId"))
        event_path.write_text(json.dumps(event, indent=2), encoding="utf-8")

        args.function, args.event = "BatchFunction", event_path
        args.template = template_path
        print(f"[local-s3] sam local invoke BatchFunction --event {event_path}", flush=True)
        status = run_invoke(args, template, env)

        listed = s3.list_objects_v2(Bucket=LOCAL_BUCKET, Prefix="predictions/").get("Contents", [])
        if not listed:
            print("[local-s3] nothing was written under predictions/")
        else:
            print(
                f"[local-s3] outputs in s3://{LOCAL_BUCKET}/predictions/ (the server stops now; first lines):"
            )
        for obj in listed:
            data = s3.get_object(Bucket=LOCAL_BUCKET, Key=obj["Key"])["Body"].read()
            print(f"\n== s3://{LOCAL_BUCKET}/{obj['Key']} ({obj['Size']} bytes)")
            for line in first_lines(data, args.lines):
                print(f"   {line}")
        return status
    finally:
        server.stop()
        print("[local-s3] moto server stopped", flush=True)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--template", type=Path, default=ROOT / ".aws-sam" / "local" / "build" / "template.yaml"
    )
    common.add_argument("--model-backend", default=None, help="ModelBackend (lean or joblib)")
    common.add_argument("--model-dir", type=Path, default=ROOT / "layers" / "model" / "model")
    common.add_argument("--params", default="", help='extra parameter overrides, "Name=Value ..."')
    common.add_argument("--env-vars", type=Path, default=None, help="sam local --env-vars JSON file")
    common.add_argument("--image", default=os.environ.get("LOCAL_IMAGE_TAG") or DEFAULT_IMAGE)
    common.add_argument("--sam", default=str(Path(sys.executable).with_name("sam")))
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    one = commands.add_parser("invoke", parents=[common])
    one.add_argument("function")
    one.add_argument("--event", type=Path, required=True)
    one.set_defaults(run=invoke)
    for name in ("start-api", "start-lambda"):
        server = commands.add_parser(name, parents=[common])
        server.add_argument("--port", type=int, required=True)
        server.set_defaults(run=serve)
    s3 = commands.add_parser("s3", parents=[common])
    s3.add_argument("file", type=Path)
    s3.add_argument("--lines", type=int, default=5, help="first lines shown of each output")
    s3.set_defaults(run=local_s3)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
