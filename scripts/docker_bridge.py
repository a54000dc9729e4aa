"""The host address that containers on Docker's default ``bridge`` network reach this host on.

A server that a ``sam local`` container must call (a moto server standing in for S3, say) listens
on this address: the bridge interface's own IPv4 address (usually ``docker0``, 172.17.0.1). It is
reachable from the containers and, unlike 0.0.0.0, from nothing outside this host.

Found in this order, so that it works on every engine version seen so far:

1. the interface the network is built on (``docker network inspect bridge``: option
   ``com.docker.network.bridge.name``, ``docker0`` when absent) and that interface's IPv4 address,
   read with the ``SIOCGIFADDR`` ioctl (stdlib, no ``ip`` binary needed);
2. the network's ``IPAM.Config[].Gateway``. Docker 20.10 (Debian's docker.io) leaves it out of
   ``IPAM.Config`` (``[{"Subnet": "172.17.0.0/16"}]``), hence the interface first.

Usage: python scripts/docker_bridge.py   (prints the address, or a one-line error and exit 2)
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from typing import Any

DEFAULT_BRIDGE = "docker0"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
SIOCGIFADDR = 0x8915


class BridgeError(RuntimeError):
    """No usable address for Docker's bridge network on this host."""


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of network interface NAME, or None when it has none (or does not exist)."""
    packed = struct.pack("256s", name.encode("utf-8")[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, packed)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def gateway_from_network(
    network: dict[str, Any], interface_address: Callable[[str], str | None] = interface_ipv4
) -> str:
    """The bridge address from a ``docker network inspect`` document (one network, as a dict).

    Raises BridgeError when neither the interface nor IPAM gives an IPv4 address.
    """
    bridge = (network.get("Options") or {}).get(BRIDGE_NAME_OPTION) or DEFAULT_BRIDGE
    address = interface_address(bridge)
    if address:
        return address
    for config in (network.get("IPAM") or {}).get("Config") or []:
        gateway = str(config.get("Gateway") or "").split("/")[0]
        if gateway and ipaddress.ip_address(gateway).version == 4:
            return gateway
    raise BridgeError(
        f"docker network {network.get('Name', 'bridge')!r}: interface {bridge!r} has no IPv4 address "
        "and IPAM lists no gateway (is dockerd running with its default bridge?)"
    )


def bridge_gateway(network: str = "bridge") -> str:
    """The address containers on NETWORK reach this host on (see the module docstring)."""
    try:
        out = subprocess.run(
            ["docker", "network", "inspect", network],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BridgeError(f"cannot inspect docker network {network!r}: {exc}") from None
    documents = json.loads(out)
    if not documents:
        raise BridgeError(f"docker network {network!r} not found")
    return gateway_from_network(documents[0])


def main() -> int:
    try:
        print(bridge_gateway())
    except BridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
