"""Driving ``sam local`` from tests: one build per session, processes and containers cleaned up.

The session builds the repository's ``template.yaml`` once with ``sam build`` into a temporary
build dir and then edits only the *built* copy of the template:

- ``ModelLayer`` points at a model trained for the session (``layers/model/`` of the checkout,
  which may hold the user's own model, is never read or written);
- every layer gets a logical id with a per-session suffix. SAM tags the image it derives per
  invoke (base image + layers) from the layer names alone, so without this two test sessions on
  one Docker daemon (or a session and a developer's ``make invoke``) would overwrite each other's
  image. With it, the session owns exactly one derived image and the containers made from it,
  and removes both at the end;
- the ``Fn::If`` that attaches the scikit-learn layer is resolved (``scripts/sam_local_template.py``;
  ``make invoke`` resolves it in the source template before its own build): ``sam local`` skips
  layers given through intrinsic functions;
- ``BatchFunction`` declares ``AWS_ENDPOINT_URL`` (empty): ``sam local`` only lets ``--env-vars``
  set variables the template declares, and the S3 test points the function at a moto server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.sam_local_template import resolve_layers
from tests.helpers import ROOT

# The image `make local-image` tags; LOCAL_IMAGE_TAG (as scripts/local-image.sh reads it) picks another.
IMAGE = os.environ.get("LOCAL_IMAGE_TAG") or "textclf/lambda-python:3.13"
LAYERS = ("DepsLayer", "SklearnLayer", "CommonLayer", "ModelLayer")
# Generous: a cold container on a busy 2-core machine; they bound hangs, they time nothing.
INVOKE_TIMEOUT = 300
START_TIMEOUT = 300


def template_variables() -> set[str]:
    """Every environment variable the template sets on a function (Globals and per function)."""
    from tests.cfn import load_template

    template = load_template()
    names = set(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            names |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    return names


def sam_env() -> dict[str, str]:
    """The environment for ``sam``: the venv first on PATH (``sam build`` needs python3.13), no telemetry.

    ``sam local`` lets the caller's environment override the template's function variables, so a
    MODEL_DIR (or limit) that another test set in this process must not reach the containers.
    """
    env = {k: v for k, v in os.environ.items() if k not in template_variables()}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def sam_bin() -> str:
    found = shutil.which("sam", path=str(Path(sys.executable).parent)) or shutil.which("sam")
    if not found:
        raise RuntimeError("sam CLI not installed (make setup installs aws-sam-cli)")
    return found


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def docker_problem() -> str | None:
    """Why ``sam local`` cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker CLI not found (scripts/dockerd.sh installs and starts the engine)"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    except subprocess.TimeoutExpired:
        return "docker engine not answering (`docker info` timed out)"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["`docker info` failed"])[-1]
        return f"docker engine not reachable: {last}"
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        return f"Lambda base image {IMAGE} missing (run `make local-image`)"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class SamBuild:
    """A built project: the edited built template and what to pass to every ``sam local`` command."""

    build_dir: Path
    template: Path
    model_layer: Path
    backend: str
    suffix: str
    workdir: Path

    @property
    def derived_image(self) -> str:
        """``samcli/lambda-python:3.13-x86_64-<hash of the layer names>``: the image SAM builds per invoke."""
        names = [f"{name}{self.suffix}" for name in self.attached_layers]
        digest = hashlib.sha256("-".join(names).encode()).hexdigest()[:25]
        return f"samcli/lambda-python:3.13-x86_64-{digest}"

    @property
    def attached_layers(self) -> list[str]:
        return [n for n in LAYERS if n != "SklearnLayer" or self.backend == "joblib"]

    def layer_dir(self, name: str) -> Path:
        if name == "ModelLayer":
            return self.model_layer
        return self.build_dir / f"{name}{self.suffix}"

    def common_args(self) -> list[str]:
        """Template, image (never pulled) and parameters, as ``make invoke`` passes them."""
        return [
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--template-file",
            str(self.template),
            "--invoke-image",
            IMAGE,
            "--skip-pull-image",
            "--parameter-overrides",
            f"ModelBackend={self.backend} BatchMemorySize=2048",
        ]

    def invoke(
        self, function: str, event: dict[str, Any], *extra: str, name: str = "event"
    ) -> tuple[dict[str, Any], str]:
        """``sam local invoke FUNCTION -e EVENT``: the handler's JSON result and SAM's log."""
        event_file = self.workdir / f"{name}-{time.monotonic_ns()}.json"
        event_file.write_text(json.dumps(event), encoding="utf-8")
        result = subprocess.run(
            [sam_bin(), "local", "invoke", function, "--event", str(event_file), *self.common_args(), *extra],
            cwd=ROOT,
            env=sam_env(),
            capture_output=True,
            text=True,
            timeout=INVOKE_TIMEOUT,
            start_new_session=True,
        )
        log = result.stderr
        assert result.returncode == 0, f"sam local invoke failed ({result.returncode}):\n{log}"
        # stdout is the handler's return value, as JSON, on its last line
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert lines, f"sam local invoke printed no result:\n{log}"
        payload: dict[str, Any] = json.loads(lines[-1])
        return payload, log

    @contextmanager
    def serve(self, command: str, port: int, *extra: str) -> Iterator[Path]:
        """``sam local start-api|start-lambda`` on 127.0.0.1:PORT with warm containers; yields its log."""
        log_path = self.workdir / f"{command}-{port}.log"
        argv = [
            sam_bin(),
            "local",
            command,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--warm-containers",
            "EAGER",
            *self.common_args(),
            *extra,
        ]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=sam_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so all of it can be stopped
            )
            try:
                wait_for_port(proc, port, log_path)
                yield log_path
            finally:
                stop_process_group(proc)
                self.remove_containers()

    def remove_containers(self) -> list[str]:
        """Remove every container made from this session's derived image (normally none are left)."""
        ids = docker(
            "ps",
            "-aq",
            "--filter",
            f"ancestor={self.derived_image}",
            "--filter",
            "label=sam.cli.container.type",
        ).stdout.split()
        if ids:
            docker("rm", "-f", *ids, check=False)
        return ids

    def cleanup(self) -> None:
        self.remove_containers()
        docker("image", "rm", "-f", self.derived_image, check=False)


def wait_for_port(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sam exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"sam did not listen on 127.0.0.1:{port}:\n{log_path.read_text(errors='replace')}")


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGINT first (SAM then stops its warm containers), SIGKILL to the group if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def build(workdir: Path, model_layer: Path, backend: str, suffix: str) -> SamBuild:
    """``sam build`` of the repository template into WORKDIR/build, then the edits described above."""
    build_dir = workdir / "build"
    result = subprocess.run(
        [
            sam_bin(),
            "build",
            "--template-file",
            str(ROOT / "template.yaml"),
            "--build-dir",
            str(build_dir),
            "--parameter-overrides",
            f"ModelBackend={backend}",
        ],
        cwd=ROOT,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    built = build_dir / "template.yaml"
    template = yaml.safe_load(built.read_text(encoding="utf-8"))
    resources = template["Resources"]
    resources["ModelLayer"]["Properties"]["ContentUri"] = str(model_layer)
    batch_env = resources["BatchFunction"]["Properties"]["Environment"]["Variables"]
    batch_env["AWS_ENDPOINT_URL"] = ""
    renames = {name: f"{name}{suffix}" for name in LAYERS}
    template = resolve_layers(_rename(template, renames), {"ModelBackend": backend})
    template["Resources"] = {renames.get(k, k): v for k, v in template["Resources"].items()}
    for name in LAYERS:
        if (build_dir / name).is_dir():
            (build_dir / name).rename(build_dir / renames[name])
    # beside the build dir, so SAM resolves CodeUri/ContentUri relative to it
    edited = build_dir / "template.e2e.yaml"
    edited.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return SamBuild(build_dir, edited, model_layer, backend, suffix, workdir)


def _rename(node: Any, renames: dict[str, str]) -> Any:
    """Every string equal to an old logical id (in Ref, ContentUri, SamResourceId) renamed."""
    if isinstance(node, dict):
        return {k: _rename(v, renames) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename(v, renames) for v in node]
    if isinstance(node, str):
        return renames.get(node, node)
    return node


def sizes(paths: Sequence[Path]) -> int:
    return sum(p.stat().st_size for root in paths for p in root.rglob("*") if p.is_file())
