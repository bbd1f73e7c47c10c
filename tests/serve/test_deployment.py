"""Declaring deployments and applications; every bad input names the argument and fix."""

from __future__ import annotations

import pytest
from ember.serve._application import flatten
from tests_support.ports import free_port

from ember import serve


@serve.deployment
class Plain:
    def __call__(self, request):
        return "plain"


def test_decorator_with_and_without_options():
    assert Plain.name == "Plain"
    tuned = serve.deployment(name="Tuned", num_replicas=3, max_ongoing_requests=7)(Plain.func_or_class)
    assert tuned.name == "Tuned"
    config = tuned.options(num_replicas=2).config_for_run()
    assert (config.num_replicas, config.max_ongoing_requests) == (2, 7)


def test_ray_actor_options_and_num_cpus_are_the_same_setting():
    config = Plain.options(ray_actor_options={"num_cpus": 2, "num_gpus": 0}).config_for_run()
    assert config.actor_resources() == {"num_cpus": 2, "num_gpus": 0, "resources": {}}
    assert Plain.config_for_run().actor_resources()["num_cpus"] == 1  # Ray's default
    changed = Plain.options(ray_actor_options={"num_cpus": 2}).options(
        ray_actor_options={"num_cpus": 0.5})
    assert changed.config_for_run().actor_resources()["num_cpus"] == 0.5


def test_bind_builds_a_graph_with_unique_names_and_handles():
    @serve.deployment
    class Ingress:
        def __init__(self, a, b, models):
            pass

    model = Plain.bind()
    ingress, specs = flatten(Ingress.bind(model, Plain.bind(), models=[model]), "app")
    assert ingress == "Ingress"
    assert [spec.name for spec in specs] == ["Plain", "Plain_1", "Ingress"]


def test_code_version_changes_with_arguments_not_with_user_config():
    @serve.deployment
    class Versioned:
        def __init__(self, size):
            pass

    def version(app):
        return flatten(app, "x")[1][0].code_version

    assert version(Versioned.bind(1)) == version(Versioned.bind(1))
    assert version(Versioned.bind(1)) != version(Versioned.bind(2))
    assert version(Versioned.bind(1)) == version(
        Versioned.options(user_config={"a": 1}, num_replicas=3).bind(1))
    assert version(Versioned.bind(1)) != version(Versioned.options(num_cpus=2).bind(1))


@pytest.mark.parametrize("options, error, message", [
    ({"num_replicas": -1}, ValueError, "num_replicas must be an int >= 0"),
    ({"num_replicas": "2"}, TypeError, "num_replicas must be an int"),
    ({"max_ongoing_requests": 0}, ValueError, "max_ongoing_requests must be an int >= 1"),
    ({"max_queued_requests": -2}, ValueError, "max_queued_requests must be an int >= -1"),
    ({"num_cpus": -1}, ValueError, "num_cpus must be a number >= 0"),
    ({"ray_actor_options": {"max_restarts": 3}}, ValueError,
     "unknown key 'max_restarts' for ray_actor_options"),
    ({"ray_actor_options": {"num_cpus": 1}, "num_cpus": 2}, ValueError,
     "num_cpus is given twice"),
    ({"resources": {"CPU": 1}}, ValueError, "use num_cpus/num_gpus"),
    ({"health_check_period_s": 0}, ValueError, "health_check_period_s must be a number > 0"),
    ({"name": ""}, ValueError, "name must be a non-empty string"),
    ({"autoscaling_config": 3}, TypeError, "autoscaling_config must be a dict"),
])
def test_bad_deployment_option_names_the_argument(options, error, message):
    with pytest.raises(error, match=message):
        serve.deployment(**options)(Plain.func_or_class)


def test_options_rejects_unknown_keys_with_the_valid_ones():
    with pytest.raises(ValueError, match="unknown option 'num_replica' .did you mean 'num_replicas'.. .*valid options are"):
        Plain.options(num_replica=2)


def test_misuse_of_deployments_and_applications_says_what_to_do():
    with pytest.raises(TypeError, match="cannot be called directly"):
        Plain()
    with pytest.raises(TypeError, match="needs an Application.*bind the deployment first"):
        flatten(Plain, "app")
    with pytest.raises(TypeError, match="is a function: bind.. takes no arguments"):
        serve.deployment(lambda request: "x").bind(1)
    with pytest.raises(TypeError, match="applied twice"):
        serve.deployment(Plain)


def test_unpicklable_bind_argument_is_named():
    import threading

    with pytest.raises(TypeError, match="cannot be pickled.*create the unpicklable object"):
        flatten(serve.deployment(type("Holder", (), {"__init__": lambda self, lock: None}))
                .bind(threading.Lock()), "app")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"route_prefix": "api"}, ValueError, "route_prefix must be a path starting with '/'"),
    ({"route_prefix": "/api/"}, ValueError, "must not end with '/'"),
    ({"port": 70000}, ValueError, "port must be an int in 0..65535"),
    ({"name": ""}, TypeError, "name must be a non-empty string"),
    ({"host": None}, TypeError, "host must be an address string"),
    ({"blocking": "yes"}, TypeError, "blocking must be True or False"),
    ({"request_timeout_s": 0}, ValueError, "request_timeout_s must be a positive number"),
])
def test_bad_run_argument_names_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        serve.run(Plain.bind(), **kwargs)


def test_run_needs_an_application():
    with pytest.raises(TypeError, match="bind the deployment first"):
        serve.run(Plain)


def test_port_in_use_is_reported_with_the_fix(port):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*free port"):
            serve.run(Plain.bind(), port=port)


def test_a_second_port_while_the_proxy_runs_is_refused(port):
    serve.run(Plain.bind(), name="one", route_prefix="/one", port=port)
    with pytest.raises(ValueError, match="already listens on"):
        serve.run(Plain.bind(), name="two", route_prefix="/two", port=free_port())
