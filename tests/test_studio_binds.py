"""The studio bound beyond loopback and behind proxies: which Host names it answers to, and what it says
at start. Real `live-style serve` processes, raw HTTP on 127.0.0.1 with the Host header a browser sends."""

from __future__ import annotations

from pathlib import Path

import pytest
from studio import Server, http

from live_style.styles import BUILTIN_FOLDER as BUILTIN_STYLES

FOREIGN_ADDRESSES = ("8.8.8.8", "255.255.255.255", "[2001:db8::7]", "10.254.253.252")


def machine_addresses() -> list[str]:
    """This machine's interface addresses as a Host header writes them (psutil's list, as the server's)."""
    psutil = pytest.importorskip("psutil")
    found = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            address = entry.address.split("%")[0]
            if entry.family.name == "AF_INET":
                found.append(address)
            elif entry.family.name == "AF_INET6":
                found.append(f"[{address}]")
    return found


def test_a_wildcard_bind_answers_only_to_this_machines_addresses_and_warns_of_plain_http(
    cache_dir: Path, tmp_path: Path
) -> None:
    addresses = machine_addresses()
    server = Server("--host", "0.0.0.0", "--style", str(BUILTIN_STYLES), cache=cache_dir, log=tmp_path / "serve.log")
    try:
        token = server.url.split("?token=", 1)[1]
        config = f"{server.base}/api/config?token={token}"
        for address in FOREIGN_ADDRESSES:
            assert address.strip("[]") not in str(addresses)
            status, body, _ = http(config, headers={"Host": f"{address}:{server.port}"})
            assert status == 421, (address, status, body)
        for address in addresses:
            status, body, _ = http(config, headers={"Host": f"{address}:{server.port}"})
            assert status == 200, (address, status, body)
        warning = [line for line in server.errors().splitlines() if line.startswith("warning:")]
        assert len(warning) == 1 and "clear text" in warning[0] and "camera" in warning[0], server.errors()
        assert "--cert" in warning[0]
    finally:
        assert server.stop() == 0


def test_allow_host_takes_a_port_brackets_or_a_scheme(cache_dir: Path, tmp_path: Path) -> None:
    allowed = ("proxy.example:8443", "[2001:db8::1]", "https://studio.example", "http://Other.Example:80/")
    args = [part for name in allowed for part in ("--allow-host", name)]
    server = Server(*args, "--style", str(BUILTIN_STYLES), cache=cache_dir, log=tmp_path / "serve.log")
    try:
        for host in ("proxy.example:8443", "[2001:db8::1]:8080", "[2001:DB8:0::1]", "studio.example", "other.example"):
            status, body, _ = http(server.base + "/api/config", headers={"Host": host})
            assert status == 200, (host, status, body)
        assert http(server.base + "/api/config", headers={"Host": "evil.example"})[0] == 421
        assert "warning" not in server.errors()
    finally:
        assert server.stop() == 0
