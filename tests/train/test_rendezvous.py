"""The process group of a run listens on 127.0.0.1 when its workers share this host, on
the one interface other hosts reach when they do not, and where the user says otherwise."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from ember.train import _rendezvous as rendezvous

from ember import train

torch = pytest.importorskip("torch")


def test_one_host_listens_and_connects_on_loopback():
    where = rendezvous.plan(["vm", "vm"], ["10.0.0.5", "10.0.0.5"], None)
    assert (where.listen, where.connect) == ("127.0.0.1", "127.0.0.1")
    assert where.collectives == ["127.0.0.1", "127.0.0.1"]


def test_hosts_apart_listen_on_rank0s_address_and_each_rank_uses_its_own_interface():
    where = rendezvous.plan(["a", "b", "a"], ["10.0.0.1", "10.0.0.2", "10.0.0.1"], None)
    assert (where.listen, where.connect) == ("10.0.0.1", "10.0.0.1")
    assert where.collectives == ["10.0.0.1", "10.0.0.2", "10.0.0.1"]


@pytest.mark.parametrize("override, hosts, listen, connect", [
    ("0.0.0.0", ["vm", "vm"], "0.0.0.0", "127.0.0.1"),
    ("0.0.0.0", ["a", "b"], "0.0.0.0", "10.0.0.1"),
    ("10.0.0.9", ["vm", "vm"], "10.0.0.9", "10.0.0.9"),
])
def test_the_user_may_ask_for_another_address(override, hosts, listen, connect):
    where = rendezvous.plan(hosts, ["10.0.0.1", "10.0.0.2"], override)
    assert (where.listen, where.connect) == (listen, connect)
    assert where.collectives == [None, None]  # torch's defaults for gloo/nccl


def test_a_bad_override_names_the_variable_and_the_fix(monkeypatch):
    monkeypatch.setenv("EMBER_TRAIN_BIND_ADDRESS", "everywhere")
    with pytest.raises(ValueError, match="EMBER_TRAIN_BIND_ADDRESS='everywhere' is not an IP"):
        rendezvous.bind_override()


def test_interface_of_finds_the_interface_holding_an_address():
    interfaces = {"lo": [SimpleNamespace(address="127.0.0.1")],
                  "eth0": [SimpleNamespace(address="10.0.0.1"), SimpleNamespace(address="fe80::1")]}
    assert rendezvous.interface_of("10.0.0.1", interfaces) == "eth0"
    assert rendezvous.interface_of("127.0.0.1", interfaces) == "lo"
    assert rendezvous.interface_of("192.168.1.1", interfaces) is None


def _listeners(config):
    """Report every TCP socket this rank listens on, while the process group is up."""
    import psutil
    import torch.distributed as dist

    total = torch.ones(1)
    dist.all_reduce(total)  # the process group is live
    listening = [(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections("inet")
                 if c.status == psutil.CONN_LISTEN]
    train.report({"listening": listening, "master_port": int(os.environ["MASTER_PORT"]),
                  "gloo_ifname": os.environ.get("GLOO_SOCKET_IFNAME"),
                  "rank": train.get_context().get_world_rank()})


def _fit(tmp_path):
    return train.TorchTrainer(
        _listeners, scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(storage_path=str(tmp_path), name="run", verbose=0)).fit()


def test_a_gloo_run_on_one_host_listens_only_on_loopback(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBER_TRAIN_BIND_ADDRESS", raising=False)
    metrics = _fit(tmp_path).metrics
    port = metrics["master_port"]
    on_port = [ip for ip, p in metrics["listening"] if p == port]
    assert on_port == ["127.0.0.1"]  # the rendezvous store, and nothing on :: or 0.0.0.0
    assert {ip for ip, _ in metrics["listening"]} == {"127.0.0.1"}  # gloo's pairs too
    assert metrics["gloo_ifname"] == rendezvous.interface_of(
        "127.0.0.1", __import__("psutil").net_if_addrs())


def test_the_rendezvous_listens_where_the_user_asks(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_TRAIN_BIND_ADDRESS", "0.0.0.0")
    metrics = _fit(tmp_path).metrics
    port = metrics["master_port"]
    assert [ip for ip, p in metrics["listening"] if p == port] == ["0.0.0.0"]
