"""Where a run's process group listens: 127.0.0.1 when every worker is on this host, the
one interface the other hosts reach otherwise, and what the user asked for when they did.

torch's own ``init_method="tcp://..."`` rendezvous starts a TCPStore server that binds
every interface (``::``) whatever host it is given; the host only tells clients where to
connect. So rank 0 binds the socket itself and hands its descriptor to the store
(``TCPStore(master_listen_fd=...)``), and every rank passes ``store=`` to
``init_process_group``. Gloo and NCCL open their own listeners on the interface named by
``GLOO_SOCKET_IFNAME`` / ``NCCL_SOCKET_IFNAME`` (default: the one the host name resolves
to), so those are set to the same interface unless the user set them.

    driver: hosts of all ranks ──> plan(hosts, rank 0's address, EMBER_TRAIN_BIND_ADDRESS)
              └─ Plan(listen on, connect to, collectives' interface per rank)
    rank 0: open_listener(plan.listen) -> port  ──>  every rank: make_store(...)

The override is ``EMBER_TRAIN_BIND_ADDRESS`` (e.g. ``0.0.0.0`` for all interfaces, or one
address), read here and nowhere else.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

LOOPBACK = "127.0.0.1"
BIND_ADDRESS_ENV = "EMBER_TRAIN_BIND_ADDRESS"
_IFNAME_ENVS = ("GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME")


@dataclass(frozen=True)
class Plan:
    """``listen``: the address rank 0's store binds; ``connect``: where ranks reach it;
    ``collectives``: per rank, the address whose interface gloo/nccl should use (None:
    leave torch's default)."""

    listen: str
    connect: str
    collectives: list[str | None]


def bind_override() -> str | None:
    """The address the user asked the rendezvous to bind (``EMBER_TRAIN_BIND_ADDRESS``)."""
    value = os.environ.get(BIND_ADDRESS_ENV, "").strip()
    if not value:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{BIND_ADDRESS_ENV}={value!r} is not an IP address; set it to the "
                         "address the training rendezvous should listen on, e.g. 0.0.0.0 for "
                         "every interface, or unset it for 127.0.0.1 on one host") from None
    return value


def plan(hosts: list[str], addresses: list[str], override: str | None) -> Plan:
    """Choose the addresses for ranks on ``hosts`` whose own addresses are ``addresses``."""
    one_host = len(set(hosts)) == 1
    connect = LOOPBACK if one_host else addresses[0]
    if override is not None:
        wildcard = ipaddress.ip_address(override).is_unspecified
        return Plan(override, connect if wildcard else override, [None] * len(hosts))
    if one_host:
        return Plan(LOOPBACK, LOOPBACK, [LOOPBACK] * len(hosts))
    return Plan(addresses[0], addresses[0], list(addresses))


def host_address() -> str:
    """This host's address as other hosts reach it: what its name resolves to, or, when
    that is a loopback address (Debian's 127.0.1.1), the source of its default route."""
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        address = LOOPBACK
    if not ipaddress.ip_address(address).is_loopback:
        return address
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it picks a route
            routed: str = probe.getsockname()[0]
            return routed
    except OSError:
        return address


def open_listener(address: str) -> tuple[int, int]:
    """A socket listening on ``address`` (a free port): (its descriptor, the port). Held
    from here on, so no other process can take the port before the store starts."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, 0))
        listener.listen(128)
        port: int = listener.getsockname()[1]
    except OSError as error:
        listener.close()
        raise OSError(f"the training rendezvous cannot listen on {address}: {error}; set "
                      f"{BIND_ADDRESS_ENV} to an address of this host") from error
    return listener.detach(), port


def interface_of(address: str, interfaces: dict[str, list[Any]]) -> str | None:
    """The name of the interface holding ``address`` in ``psutil.net_if_addrs()``."""
    for name, entries in interfaces.items():
        if any(getattr(entry, "address", None) == address for entry in entries):
            return name
    return None


def collectives_env(address: str | None) -> dict[str, str]:
    """GLOO_SOCKET_IFNAME / NCCL_SOCKET_IFNAME for the interface of ``address``, leaving
    alone what the user set."""
    if address is None:
        return {}
    import psutil  # type: ignore[import-untyped]  # types-psutil not installed

    name = interface_of(address, psutil.net_if_addrs())
    if name is None:
        return {}
    return {env: name for env in _IFNAME_ENVS if not os.environ.get(env)}


def make_store(connect: str, port: int, rank: int, world_size: int, listen_fd: int | None,
               timeout_s: float) -> Any:
    """Rank 0 serves the store on its listener; the other ranks connect to it."""
    import torch.distributed as dist

    # torch.distributed imports TCPStore from torch._C without an explicit re-export
    return dist.TCPStore(connect, port, world_size, is_master=rank == 0,  # type: ignore[attr-defined]
                         timeout=timedelta(seconds=timeout_s), master_listen_fd=listen_fd)
