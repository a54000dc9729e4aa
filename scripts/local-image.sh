#!/usr/bin/env bash
# Build the offline Lambda base image textclf/lambda-python:3.13.
#
# It stands in for public.ecr.aws/lambda/python:3.13 when that image cannot be
# pulled (no registry but PyPI / Debian / npm): Debian minbase (trixie, Python
# 3.13) from the Debian mirror apt already uses, plus awslambdaric, boto3 and
# botocore from PyPI in /var/runtime, with the official image's layout and
# environment. Use it with:
#   sam local invoke --invoke-image textclf/lambda-python:3.13 --skip-pull-image ...
#
# - If public.ecr.aws/lambda/python:3.13 is present locally, it is tagged
#   instead (unless --force-build / LOCAL_IMAGE_FORCE_BUILD=1).
# - Cached: the sha256 of this script and of scripts/local-image/* (except
#   *.md) is stored as image label textclf.local-image.inputs-hash; when the
#   tagged image carries the current hash the script prints "up to date" and
#   exits at once. --rebuild (or LOCAL_IMAGE_REBUILD=1) ignores it.
# - Downloads are cached in $LOCAL_IMAGE_CACHE (default
#   ~/.cache/textclf-local-image): the debootstrap tarball (.debs), the
#   configured Debian rootfs and the wheels.
#   Delete that directory to pick up newer Debian packages.
# Needs root (debootstrap, chroot, dockerd). Runs scripts/dockerd.sh first.
set -euo pipefail

IMAGE="${LOCAL_IMAGE_TAG:-textclf/lambda-python:3.13}"
OFFICIAL_IMAGE="public.ecr.aws/lambda/python:3.13"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INPUTS="$HERE/local-image"
CACHE="${LOCAL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/textclf-local-image}"
FORCE_BUILD="${LOCAL_IMAGE_FORCE_BUILD:-0}"
REBUILD="${LOCAL_IMAGE_REBUILD:-0}"
START=$SECONDS

say() { echo "[local-image] $*"; }
die() { echo "[local-image] ERROR: $*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --force-build) FORCE_BUILD=1 ;;   # build even if the official image is present
    --rebuild) REBUILD=1 ;;           # ignore the input-hash cache
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (use --force-build, --rebuild)" ;;
  esac
done

[ -d "$INPUTS" ] || die "missing input directory $INPUTS"
# shellcheck source=local-image/build.env
. "$INPUTS/build.env"
: "${DEBIAN_SUITE:?}" "${DEBIAN_INCLUDE:?}" "${PYTHON_VERSION:?}"

# ---------------------------------------------------------------- docker ----
# (Before the build lock below is taken: a dockerd started here must not
# inherit the lock's file descriptor.)
bash "$HERE/dockerd.sh" || die "no working docker engine (scripts/dockerd.sh failed)"

image_label() {  # image label -> value ("" if image or label missing)
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# SAM builds its own images FROM $IMAGE (RIE + layers): ${IMAGE%:*}:rapid-x86_64
# for functions without layers -- which, with --skip-pull-image, it never
# rebuilds when $IMAGE changes -- and samcli/lambda-python:3.13-x86_64-<hash>
# for functions with layers. When $IMAGE moves to a new image, remove the old
# one together with those SAM-built descendants (untagged or SAM-tagged only;
# anything else tagged on top of it is left alone), leaves first.
purge_old_image_tree() {
  local old="$1" id ref parent removed
  [ -n "$old" ] || return 0
  for _ in 1 2 3 4 5 6; do
    removed=0
    while read -r id ref; do
      [ "$id" != "$old" ] || continue
      case "$ref" in "<none>:<none>"|"${IMAGE%:*}":*rapid-*|samcli/lambda-*) ;; *) continue ;; esac
      parent="$id"
      while parent="$(docker image inspect --format '{{.Parent}}' "$parent" 2>/dev/null)" && [ -n "$parent" ]; do
        if [ "$parent" = "$old" ]; then
          if [ "$ref" = "<none>:<none>" ]; then docker image rm "$id"; else docker image rm "$ref"; fi >/dev/null 2>&1 \
            && { removed=1; [ "$ref" = "<none>:<none>" ] || say "removed stale SAM image $ref"; }
          break
        fi
      done
    done < <(docker images -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' 2>/dev/null || true)
    [ "$removed" = 1 ] || break
  done
  # Delete the old image itself only if nothing tags it any more (never the official one).
  if [ "$(docker image inspect --format '{{len .RepoTags}}' "$old" 2>/dev/null || echo x)" = 0 ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
}
current_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# ------------------------------------------------------- official image ----
if [ "$FORCE_BUILD" != 1 ] && docker image inspect "$OFFICIAL_IMAGE" >/dev/null 2>&1; then
  OLD_ID="$(current_id "$IMAGE")"
  if [ "$OLD_ID" != "$(current_id "$OFFICIAL_IMAGE")" ]; then
    docker tag "$OFFICIAL_IMAGE" "$IMAGE" || die "docker tag $OFFICIAL_IMAGE $IMAGE failed"
    purge_old_image_tree "$OLD_ID"
  fi
  say "official $OFFICIAL_IMAGE is present locally: $IMAGE is a tag of it (no build)"
  exit 0
fi

# ------------------------------------------------------------ input hash ----
inputs_hash() {
  {
    echo "== local-image.sh"; cat "${BASH_SOURCE[0]}"
    # README fragments and other docs do not change the image.
    (cd "$INPUTS" && find . -type f ! -name '*.md' | LC_ALL=C sort) | while read -r f; do
      echo "== $f"; cat "$INPUTS/$f"
    done
  } | sha256sum | cut -c1-64
}
HASH="$(inputs_hash)"
if [ "$REBUILD" != 1 ] && [ "$(image_label "$IMAGE" textclf.local-image.inputs-hash)" = "$HASH" ]; then
  say "$IMAGE up to date (inputs ${HASH:0:12})"
  exit 0
fi
say "building $IMAGE (inputs ${HASH:0:12}); cache: $CACHE"

# ---------------------------------------------------------- host checks ----
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap/chroot)"
ARCH="$(dpkg --print-architecture 2>/dev/null || uname -m)"
[ "$ARCH" = amd64 ] || [ "$ARCH" = x86_64 ] || die "only amd64 hosts are supported (got $ARCH)"

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap via apt-get"
  apt_install debootstrap
fi
[ -e /usr/share/debootstrap/scripts/"$DEBIAN_SUITE" ] || die "this debootstrap does not know '$DEBIAN_SUITE'"

# A host python with pip installs the wheels into the rootfs (cross-target:
# --python-version/--platform), so the build never runs pip inside the rootfs.
HOST_PY=""
for py in python3 python3.13 python3.12 python3.11 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
    HOST_PY="$(command -v "$py")"; break
  fi
done
if [ -z "$HOST_PY" ]; then
  say "installing python3-pip via apt-get (host pip for cross-installing wheels)"
  apt_install python3-pip
  HOST_PY=/usr/bin/python3
fi

# Debian mirror: the one apt on this host already uses (override: DEBIAN_MIRROR).
if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | sed 's/#.*//' | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
fi
DEBIAN_MIRROR="${DEBIAN_MIRROR%/}"

# --------------------------------------------------------------- workdir ----
mkdir -p "$CACHE/wheels"
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "another local-image build holds $CACHE/.lock"
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/textclf-local-image.XXXXXX")"
ROOTFS="$WORK/rootfs"
WORK_TMPFS=0
cleanup() {
  # debootstrap may leave proc/sys mounted in the target on failure.
  { grep -oE " $WORK/[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if [ "$WORK_TMPFS" = 1 ]; then umount -l "$WORK" 2>/dev/null || true; fi
  rm -rf --one-file-system "$WORK" || true
}
trap cleanup EXIT
# Work in RAM when possible (dpkg's fsyncs and deleting the rootfs are slow on
# a busy disk); LOCAL_IMAGE_TMPFS=0 builds on disk.
if [ "${LOCAL_IMAGE_TMPFS:-1}" = 1 ] && mount -t tmpfs -o size=3g,mode=0700 textclf-local-image "$WORK" 2>/dev/null; then
  WORK_TMPFS=1
fi

# ------------------------------------------------------------ debootstrap ----
# Two caches, both keyed by suite + package list + mirror (the apt lists inside
# are named after the mirror):
#  - debootstrap-*.tgz: the downloaded .debs (debootstrap --make-tarball);
#  - rootfs-*.tar.gz:   the configured minbase system, before any Lambda
#    customisation, so a rebuild after an input change skips debootstrap.
INCLUDE_CSV="$(echo "$DEBIAN_INCLUDE" | tr -s ' ' ',' | sed 's/^,//;s/,$//')"
CACHE_KEY="$(echo "$DEBIAN_SUITE $INCLUDE_CSV minbase amd64 $DEBIAN_MIRROR" | sha256sum | cut -c1-12)"
TARBALL="$CACHE/debootstrap-$DEBIAN_SUITE-amd64-$CACHE_KEY.tgz"
BASE_TAR="$CACHE/rootfs-$DEBIAN_SUITE-amd64-$CACHE_KEY.tar.gz"
DEBOOTSTRAP_ARGS=(--variant=minbase --arch=amd64 --include="$INCLUDE_CSV" --components=main)
mkdir -p "$ROOTFS"
if [ -s "$BASE_TAR" ] && tar --numeric-owner -xzpf "$BASE_TAR" -C "$ROOTFS" 2>"$WORK/untar.log"; then
  say "using cached Debian $DEBIAN_SUITE rootfs $(basename "$BASE_TAR")"
else
  [ ! -s "$BASE_TAR" ] || { say "cached rootfs unreadable, rebuilding it"; rm -rf --one-file-system "$ROOTFS"; mkdir -p "$ROOTFS"; }
  if [ ! -s "$TARBALL" ]; then
    say "downloading Debian $DEBIAN_SUITE minbase + [$INCLUDE_CSV] from $DEBIAN_MIRROR (cache: $(basename "$TARBALL"))"
    debootstrap "${DEBOOTSTRAP_ARGS[@]}" --make-tarball="$TARBALL.part" \
      "$DEBIAN_SUITE" "$WORK/dl" "$DEBIAN_MIRROR" >"$WORK/debootstrap-dl.log" 2>&1 \
      || { tail -n 20 "$WORK/debootstrap-dl.log" >&2; die "debootstrap --make-tarball failed"; }
    mv "$TARBALL.part" "$TARBALL"
    rm -rf --one-file-system "$WORK/dl"
  else
    say "using cached debootstrap tarball $(basename "$TARBALL")"
  fi
  say "debootstrap: installing Debian $DEBIAN_SUITE minbase (offline, from the tarball)"
  # First stage unpacks; the second (package configuration) runs with dpkg's
  # unsafe-io, which is much faster here and harmless for a throwaway rootfs.
  debootstrap --foreign "${DEBOOTSTRAP_ARGS[@]}" --unpack-tarball="$TARBALL" \
    "$DEBIAN_SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap (first stage) failed (delete $TARBALL if it is corrupt)"; }
  echo force-unsafe-io >"$ROOTFS/etc/dpkg/dpkg.cfg.d/zz-build-unsafe-io"
  chroot "$ROOTFS" /debootstrap/debootstrap --second-stage >>"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap (second stage) failed (delete $TARBALL if it is corrupt)"; }
  rm -f "$ROOTFS/etc/dpkg/dpkg.cfg.d/zz-build-unsafe-io"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*   # .debs stay in $TARBALL
  tar --numeric-owner -C "$ROOTFS" -cf - . | gzip -1 >"$BASE_TAR.part" && mv "$BASE_TAR.part" "$BASE_TAR" \
    || { rm -f "$BASE_TAR.part"; say "warning: could not cache the rootfs (continuing)"; }
fi

PYBIN="$ROOTFS/usr/bin/python$PYTHON_VERSION"
[ -x "$PYBIN" ] || die "Debian $DEBIAN_SUITE did not install python$PYTHON_VERSION"

# --------------------------------------------------------- Lambda layout ----
say "laying out /var/runtime, /var/task, /var/lang, /opt"
install -d -m 0755 "$ROOTFS/var/runtime" "$ROOTFS/var/task" "$ROOTFS/var/lang/bin" \
  "$ROOTFS/var/lang/lib" "$ROOTFS/opt" "$ROOTFS/usr/local/bin"
ln -sf "/usr/bin/python$PYTHON_VERSION" "$ROOTFS/var/lang/bin/python$PYTHON_VERSION"
ln -sf "python$PYTHON_VERSION" "$ROOTFS/var/lang/bin/python3"
ln -sf "python$PYTHON_VERSION" "$ROOTFS/var/lang/bin/python"
install -m 0755 "$INPUTS/bootstrap" "$ROOTFS/var/runtime/bootstrap"
install -m 0644 "$INPUTS/bootstrap.py" "$ROOTFS/var/runtime/bootstrap.py"
install -m 0755 "$INPUTS/lambda-entrypoint.sh" "$ROOTFS/lambda-entrypoint.sh"
ln -sf /usr/share/zoneinfo/Etc/UTC "$ROOTFS/etc/localtime"
echo Etc/UTC >"$ROOTFS/etc/timezone"

# apt inside the image: full trixie sources (security too) for derived images.
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# Keep later apt installs in derived images slim too (as Debian's docker images do).
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF

# ------------------------------------------------------------ PyPI wheels ----
PIP_TARGET_ARGS=(--only-binary=:all: --implementation cp --python-version "$PYTHON_VERSION"
  --abi "cp${PYTHON_VERSION/./}" --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 --platform any)
PIP=("$HOST_PY" -m pip --disable-pip-version-check --no-input)
say "pip: installing $(grep -cE '^[A-Za-z]' "$INPUTS/requirements.txt") pinned packages into /var/runtime (host pip: $HOST_PY)"
pip_runtime() {
  "${PIP[@]}" install -q --no-compile --no-warn-script-location --upgrade --target "$ROOTFS/var/runtime" \
    "${PIP_TARGET_ARGS[@]}" -r "$INPUTS/requirements.txt" "$@"
}
if ! pip_runtime --no-index --find-links "$CACHE/wheels" >"$WORK/pip.log" 2>&1; then
  say "pip: fetching wheels from PyPI into $CACHE/wheels"
  "${PIP[@]}" download -q -d "$CACHE/wheels" "${PIP_TARGET_ARGS[@]}" -r "$INPUTS/requirements.txt" \
    >"$WORK/pip-dl.log" 2>&1 || { tail -n 20 "$WORK/pip-dl.log" >&2; die "pip download failed"; }
  pip_runtime --no-index --find-links "$CACHE/wheels" >"$WORK/pip.log" 2>&1 \
    || { tail -n 20 "$WORK/pip.log" >&2; die "pip install into /var/runtime failed"; }
fi
rm -rf "$ROOTFS/var/runtime/bin"   # console scripts (jp.py) point at the host python

if [ -n "${IMAGE_PIP_VERSION:-}" ]; then
  say "pip: installing pip==$IMAGE_PIP_VERSION for the image's own use"
  SITE="$ROOTFS/usr/local/lib/python$PYTHON_VERSION/dist-packages"
  pip_self() {
    "${PIP[@]}" install -q --no-compile --no-deps --target "$SITE" "${PIP_TARGET_ARGS[@]}" "pip==$IMAGE_PIP_VERSION" "$@"
  }
  if ! pip_self --no-index --find-links "$CACHE/wheels" >"$WORK/pip-self.log" 2>&1; then
    "${PIP[@]}" download -q --no-deps -d "$CACHE/wheels" "${PIP_TARGET_ARGS[@]}" "pip==$IMAGE_PIP_VERSION" \
      >"$WORK/pip-self.log" 2>&1 && pip_self --no-index --find-links "$CACHE/wheels" >>"$WORK/pip-self.log" 2>&1 \
      || { tail -n 20 "$WORK/pip-self.log" >&2; die "installing pip==$IMAGE_PIP_VERSION failed"; }
  fi
  rm -rf "${SITE:?}/bin"
  for n in pip pip3 "pip$PYTHON_VERSION"; do
    printf '#!/bin/sh\nexec /var/lang/bin/python%s -m pip "$@"\n' "$PYTHON_VERSION" >"$ROOTFS/var/lang/bin/$n"
    chmod 0755 "$ROOTFS/var/lang/bin/$n"
  done
  # A container image is not a Debian-managed system: let pip install like in
  # the official image (into /usr/local/lib/python3.13/dist-packages).
  rm -f "$ROOTFS/usr/lib/python$PYTHON_VERSION/EXTERNALLY-MANAGED"
fi

if [ -n "${RIE_FROM_SAM_CLI_VERSION:-}" ]; then
  say "extracting aws-lambda-rie from aws-sam-cli==$RIE_FROM_SAM_CLI_VERSION"
  SAM_WHEEL="$(ls "$CACHE/wheels/aws_sam_cli-$RIE_FROM_SAM_CLI_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$SAM_WHEEL" ]; then
    "${PIP[@]}" download -q --no-deps --only-binary=:all: -d "$CACHE/wheels" "aws-sam-cli==$RIE_FROM_SAM_CLI_VERSION" \
      >"$WORK/pip-sam.log" 2>&1 || { tail -n 20 "$WORK/pip-sam.log" >&2; die "pip download aws-sam-cli failed"; }
    SAM_WHEEL="$(ls "$CACHE/wheels/aws_sam_cli-$RIE_FROM_SAM_CLI_VERSION"-*.whl | head -n1)"
  fi
  "$HOST_PY" - "$SAM_WHEEL" "$ROOTFS/usr/local/bin/aws-lambda-rie" <<'PY' || die "cannot extract aws-lambda-rie"
import os, shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("samcli/local/rapid/aws-lambda-rie-x86_64") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2], 0o755)
PY
fi

# ------------------------------------------------------- slim + compile ----
say "slimming the rootfs and precompiling /var/runtime bytecode"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
  "$ROOTFS"/var/lib/dpkg/*-old "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/* "$ROOTFS"/usr/share/lintian/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* \
  "$ROOTFS"/var/cache/ldconfig/aux-cache
find "$ROOTFS/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
find "$ROOTFS/var/log" -type f -exec truncate -s 0 {} + 2>/dev/null || true
: >"$ROOTFS/etc/machine-id"
# Bytecode: drop whatever pip/tools left in /var/runtime and compile it with the
# image's own interpreter; unchecked-hash .pyc are never re-validated against
# the sources, so cold starts neither stat nor recompile them. (Debian's
# stdlib .pyc, compiled at package install, are kept.)
find "$ROOTFS/var/runtime" -name __pycache__ -type d -prune -exec rm -rf {} +
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin "python$PYTHON_VERSION" -m compileall -q -f \
  --invalidation-mode unchecked-hash /var/runtime >"$WORK/compileall.log" 2>&1 \
  || { tail -n 20 "$WORK/compileall.log" >&2; die "compileall of /var/runtime failed"; }

# Smoke test inside the rootfs before importing it.
chroot "$ROOTFS" /usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 \
  PYTHONPATH=/var/runtime python3 -c '
import sys, awslambdaric, awslambdaric.bootstrap, boto3, botocore, ssl, sqlite3, zoneinfo, json
assert sys.version_info[:2] == tuple(map(int, "'"$PYTHON_VERSION"'".split("."))), sys.version
zoneinfo.ZoneInfo("Europe/Paris")
import bootstrap  # /var/runtime/bootstrap.py: errors in the shape sam local recognises
from awslambdaric.bootstrap import build_fault_result
try:
    raise ValueError("smoke")
except ValueError:
    fault = build_fault_result(sys.exc_info(), None)
assert set(fault) == {"errorMessage", "errorType", "stackTrace"}, fault
' || die "smoke test (awslambdaric/boto3 with the image python, error document shape) failed"
PY_FULL="$(chroot "$ROOTFS" "/usr/bin/python$PYTHON_VERSION" -c 'import platform; print(platform.python_version())')"
BOTO3_V="$(grep -m1 '^Version:' "$ROOTFS"/var/runtime/boto3-*.dist-info/METADATA | cut -d' ' -f2)"
RIC_V="$(grep -m1 '^Version:' "$ROOTFS"/var/runtime/awslambdaric-*.dist-info/METADATA | cut -d' ' -f2)"

# --------------------------------------------------------------- import ----
say "docker import (python $PY_FULL, awslambdaric $RIC_V, boto3 $BOTO3_V)"
OLD_ID="$(current_id "$IMAGE")"
PYP="/opt/python/lib/python$PYTHON_VERSION/site-packages:/opt/python:/var/runtime"
tar --numeric-owner --xattrs -C "$ROOTFS" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . \
  | docker import \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV TZ=:/etc/localtime" \
    --change "ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin:/usr/local/sbin:/usr/sbin:/sbin" \
    --change "ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib" \
    --change "ENV LAMBDA_TASK_ROOT=/var/task" \
    --change "ENV LAMBDA_RUNTIME_DIR=/var/runtime" \
    --change "ENV PYTHONPATH=$PYP" \
    --change "WORKDIR /var/task" \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
    --change "LABEL textclf.local-image.inputs-hash=$HASH" \
    --change "LABEL textclf.local-image.base=debian-$DEBIAN_SUITE-minbase" \
    --change "LABEL textclf.local-image.python=$PY_FULL" \
    --change "LABEL textclf.local-image.boto3=$BOTO3_V" \
    --change "LABEL textclf.local-image.awslambdaric=$RIC_V" \
    --message "textclf offline Lambda python$PYTHON_VERSION base (scripts/local-image.sh)" \
    - >"$WORK/image-id" || die "docker import failed"
NEW_ID="$(cat "$WORK/image-id")"

# Tag only after a smoke test, so a broken build never looks "up to date".
if ! docker run --rm --entrypoint /bin/sh "$NEW_ID" -c \
  'python3 -c "import boto3, awslambdaric, os; assert os.getcwd() == \"/var/task\"" && python3.13 -V >/dev/null'"${IMAGE_PIP_VERSION:+ && pip --version >/dev/null}"; then
  docker image rm "$NEW_ID" >/dev/null 2>&1 || true
  die "imported image failed its smoke test (docker run: python3 -c 'import boto3, awslambdaric'${IMAGE_PIP_VERSION:+; pip --version})"
fi
docker tag "$NEW_ID" "$IMAGE" || die "docker tag $NEW_ID $IMAGE failed"
[ "$OLD_ID" = "$NEW_ID" ] || purge_old_image_tree "$OLD_ID"
SIZE="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
say "built $IMAGE ($((SIZE / 1000000)) MB) in $((SECONDS - START))s"
