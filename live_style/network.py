"""Addresses: whether a host is this machine's loopback (the studio's bind, a Ray cluster's address)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost (IPv6 brackets allowed): nobody else can reach it."""
    host = host.strip("[]")
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
