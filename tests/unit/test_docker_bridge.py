"""scripts/docker_bridge.py: the address containers reach the host by, whatever the engine reports."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from scripts.docker_bridge import BridgeGatewayError, gateway_address, interface_ipv4

# What `docker network inspect bridge` prints for the default bridge on Debian 12's docker.io 20.10:
# the subnet only, no Gateway (the engine the project's scripts/dockerd.sh installs).
DOCKER_20_10 = {
    "Name": "bridge",
    "Driver": "bridge",
    "IPAM": {"Driver": "default", "Options": None, "Config": [{"Subnet": "172.17.0.0/16"}]},
    "Options": {
        "com.docker.network.bridge.default_bridge": "true",
        "com.docker.network.bridge.name": "docker0",
        "com.docker.network.driver.mtu": "1500",
    },
}
# Newer engines report the gateway in IPAM.Config.
DOCKER_28 = {
    "Name": "bridge",
    "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]},
    "Options": {"com.docker.network.bridge.name": "docker0"},
}


def interfaces(**addresses: str) -> Any:
    return lambda name: addresses.get(name)


def test_docker_20_10_without_ipam_gateway_uses_the_bridge_interface() -> None:
    assert gateway_address(DOCKER_20_10, interfaces(docker0="172.17.0.1")) == "172.17.0.1"


def test_ipam_gateway_is_the_fallback_when_the_interface_is_not_visible() -> None:
    # e.g. the engine runs in another network namespace (a remote or rootless daemon)
    assert gateway_address(DOCKER_28, interfaces()) == "172.17.0.1"


def test_bridge_name_option_names_the_interface() -> None:
    network = json.loads(json.dumps(DOCKER_20_10))
    network["Options"]["com.docker.network.bridge.name"] = "br-custom"
    network["IPAM"]["Config"] = [{"Subnet": "10.99.0.0/24"}]
    assert (
        gateway_address(network, interfaces(docker0="172.17.0.1", **{"br-custom": "10.99.0.1"}))
        == "10.99.0.1"
    )


def test_missing_bridge_name_option_means_docker0() -> None:
    network = {"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]}, "Options": {}}
    assert gateway_address(network, interfaces(docker0="172.17.0.1")) == "172.17.0.1"


def test_an_interface_address_outside_the_subnet_is_not_trusted() -> None:
    # a stale docker0 from another engine: the IPAM gateway of this network wins
    assert gateway_address(DOCKER_28, interfaces(docker0="192.168.5.1")) == "172.17.0.1"


@pytest.mark.parametrize("config", [[{"Subnet": "172.17.0.0/16"}], [], None])
def test_no_address_anywhere_is_a_clear_error(config: Any) -> None:
    network = {"Name": "bridge", "IPAM": {"Config": config}, "Options": {}}
    with pytest.raises(
        BridgeGatewayError, match=r"network 'bridge' has no gateway address: interface 'docker0'"
    ):
        gateway_address(network, interfaces())


@pytest.mark.parametrize("with_gateway", [True, False])
@pytest.mark.parametrize(
    ("subnet", "name"),
    [("172.17.0.0/16", "docker0"), ("10.200.3.0/24", "br-0123456789ab"), ("192.168.99.0/24", "lxcbr0")],
)
def test_any_bridge_subnet_gives_the_interface_address(subnet: str, with_gateway: bool, name: str) -> None:
    host = str(next(ipaddress.ip_network(subnet).hosts()))
    config: dict[str, str] = {"Subnet": str(subnet)}
    if with_gateway:
        config["Gateway"] = host
    network = {"Name": "n", "IPAM": {"Config": [config]}, "Options": {"com.docker.network.bridge.name": name}}
    assert gateway_address(network, interfaces(**{name: host})) == host


def test_interface_lookup_reads_real_interfaces() -> None:
    assert interface_ipv4("lo") == "127.0.0.1"
    assert interface_ipv4("no-such-if0") is None
