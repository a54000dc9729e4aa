"""The host address that containers on Docker's default ``bridge`` network reach this machine by.

A server that a ``sam local`` container must call (a moto server standing in for S3) listens on
this address, never on 0.0.0.0. Docker engines disagree on where they report it:

- newer engines fill ``IPAM.Config[].Gateway`` in ``docker network inspect bridge``;
- Debian 12's ``docker.io`` (Docker 20.10) leaves it out of the default bridge
  (``IPAM.Config`` is ``[{"Subnet": "172.17.0.0/16"}]``), although the bridge interface
  (``docker0``) carries the address.

So the address is read from the bridge *interface* first (named by the network's
``com.docker.network.bridge.name`` option, ``docker0`` when absent), checked against the network's
subnet, and only then from ``IPAM.Config``. Command line: ``python scripts/docker_bridge.py``
prints the address (exit 1 with a one-line reason when there is none).
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_BRIDGE_INTERFACE = "docker0"
_SIOCGIFADDR = 0x8915  # Linux ioctl: the IPv4 address of a network interface


class BridgeGatewayError(RuntimeError):
    """Docker's bridge network has no host address this machine can listen on."""


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of the local interface ``name``, or None when it has none (or is absent)."""
    packed = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, packed)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def gateway_address(network: Mapping[str, Any], lookup: Callable[[str], str | None] = interface_ipv4) -> str:
    """The host's address on a Docker network, from one ``docker network inspect`` entry.

    ``network`` is one element of the JSON list that ``docker network inspect NAME`` prints;
    ``lookup`` maps an interface name to its IPv4 address (None when it has none).
    Raises BridgeGatewayError, naming what was seen, when neither the bridge interface nor
    ``IPAM.Config`` gives an address.
    """
    configs = [c for c in ((network.get("IPAM") or {}).get("Config") or []) if isinstance(c, Mapping)]
    subnets = []
    for config in configs:
        try:
            subnets.append(ipaddress.ip_network(str(config.get("Subnet", "")), strict=False))
        except ValueError:
            continue
    interface = (network.get("Options") or {}).get(
        "com.docker.network.bridge.name"
    ) or DEFAULT_BRIDGE_INTERFACE
    address = lookup(str(interface))
    if address and (not subnets or any(ipaddress.ip_address(address) in net for net in subnets)):
        return address
    for config in configs:
        if config.get("Gateway"):
            return str(config["Gateway"])
    raise BridgeGatewayError(
        f"docker network {network.get('Name', '?')!r} has no gateway address: interface {interface!r} "
        f"has {'address ' + address if address else 'no IPv4 address here'}, "
        f"IPAM.Config is {json.dumps(configs)}"
    )


def bridge_gateway(network: str = "bridge", timeout: float = 60) -> str:
    """The host address on Docker network ``network`` (``docker network inspect``; see gateway_address)."""
    out = subprocess.run(
        ["docker", "network", "inspect", network],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if out.returncode != 0:
        raise BridgeGatewayError(f"docker network inspect {network} failed: {out.stderr.strip()[-300:]}")
    entries = json.loads(out.stdout or "[]")
    if not entries:
        raise BridgeGatewayError(f"docker network {network!r} not found")
    return gateway_address(entries[0])


if __name__ == "__main__":
    try:
        print(bridge_gateway(sys.argv[1]) if len(sys.argv) > 1 else bridge_gateway())
    except (BridgeGatewayError, OSError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
