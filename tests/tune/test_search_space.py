"""Search spaces: domains draw inside their bounds, bad bounds name the argument, and
``generate_variants`` expands grids, samples domains and resolves sample_from."""

from __future__ import annotations

import math
import random

import pytest
from ember.tune._search_space import (
    choice,
    domains,
    expand_grids,
    generate_variants,
    get_path,
    grid_search,
    loguniform,
    quniform,
    randint,
    resolve,
    sample_from,
    set_path,
    uniform,
    walk,
)


def _draws(domain, n=500, seed=0):
    rng = random.Random(seed)
    return [domain.sample(rng) for _ in range(n)]


def test_uniform_draws_floats_inside_bounds():
    values = _draws(uniform(-1, 2))
    assert all(-1 <= v <= 2 for v in values)
    assert min(values) < -0.5 and max(values) > 1.5


def test_loguniform_is_uniform_in_log_space():
    values = _draws(loguniform(1e-4, 1e-0))
    assert all(1e-4 <= v <= 1 for v in values)
    decades = [math.floor(math.log10(v)) for v in values if v < 1]
    assert {d: decades.count(d) > 80 for d in (-4, -3, -2, -1)} == dict.fromkeys(
        (-4, -3, -2, -1), True)


def test_loguniform_accepts_another_base():
    assert all(2 <= v <= 32 for v in _draws(loguniform(2, 32, base=2)))


def test_quniform_values_are_multiples_of_q_inside_bounds():
    values = _draws(quniform(0.05, 1.0, 0.1))
    assert set(values) <= {round(0.1 * k, 12) for k in range(1, 11)}
    assert 0.1 in values and 1.0 in values


def test_randint_excludes_upper_bound():
    assert set(_draws(randint(1, 4))) == {1, 2, 3}


def test_choice_draws_every_category():
    assert set(_draws(choice(["a", "b", "c"]))) == {"a", "b", "c"}


def test_grid_search_returns_rays_marker():
    assert grid_search((1, 2)) == {"grid_search": [1, 2]}


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: uniform(1, 1), ValueError, "lower must be smaller than upper"),
        (lambda: uniform(2, 1), ValueError, "uniform(lower=2, upper=1)"),
        (lambda: uniform("0", 1), TypeError, "lower must be a number"),
        (lambda: loguniform(0, 1), ValueError, "loguniform(lower=0)"),
        (lambda: loguniform(1, 10, base=1), ValueError, "base"),
        (lambda: quniform(0, 1, 0), ValueError, "quniform(q=0)"),
        (lambda: quniform(0.1, 0.2, 1), ValueError, "no multiple of q"),
        (lambda: randint(1.5, 3), TypeError, "randint(lower=1.5)"),
        (lambda: randint(3, 3), ValueError, "upper is excluded"),
        (lambda: choice([]), ValueError, "categories must not be empty"),
        (lambda: choice("abc"), TypeError, "categories must be a list"),
        (lambda: grid_search([]), ValueError, "values must not be empty"),
        (lambda: grid_search(3), TypeError, "values must be a list"),
        (lambda: sample_from(3), TypeError, "fn must be callable"),
    ],
)
def test_bad_domain_arguments_name_the_argument(make, error, words):
    with pytest.raises(error) as info:
        make()
    assert words in str(info.value)


def test_walk_get_and_set_paths_in_nested_dicts():
    space = {"a": 1, "train_loop_config": {"lr": uniform(0, 1), "g": grid_search([1])}}
    paths = [path for path, _ in walk(space)]
    assert paths == [("a",), ("train_loop_config", "lr"), ("train_loop_config", "g")]
    assert list(domains(space)) == [("train_loop_config", "lr")]
    config = {}
    set_path(config, ("x", "y"), 3)
    assert config == {"x": {"y": 3}} and get_path(config, ("x", "y")) == 3


def test_grid_entries_give_their_cartesian_product_times_num_samples():
    space = {"a": grid_search([1, 2]), "nested": {"b": grid_search(["x", "y", "z"])}}
    variants = generate_variants(space, 2, random.Random(0))
    assert len(variants) == 12
    pairs = [(v["a"], v["nested"]["b"]) for v in variants[:6]]
    assert sorted(pairs) == sorted((a, b) for a in (1, 2) for b in "xyz")
    assert variants[:6] == variants[6:]


def test_random_domains_are_drawn_per_variant_and_seeded():
    space = {"lr": loguniform(1e-4, 1e-1), "grid": grid_search([1, 2]), "const": [1, {"k": 2}]}
    first = generate_variants(space, 3, random.Random(7))
    again = generate_variants(space, 3, random.Random(7))
    assert first == again
    assert len({v["lr"] for v in first}) == 6
    assert all(v["const"] == [1, {"k": 2}] for v in first)


def test_constants_are_copied_so_variants_do_not_share_dicts():
    space = {"opt": {"name": "adam", "lr": uniform(0, 1)}, "layers": [64, 64]}
    first, second = generate_variants(space, 2, random.Random(0))
    first["opt"]["name"] = "sgd"
    first["layers"].append(1)
    assert second["opt"]["name"] == "adam" and second["layers"] == [64, 64]
    assert space["layers"] == [64, 64]


def test_domains_inside_lists_are_sampled():
    (config,) = generate_variants({"layers": [randint(1, 2), 5]}, 1, random.Random(0))
    assert config == {"layers": [1, 5]}


def test_sample_from_sees_the_resolved_config_with_attribute_access():
    space = {
        "width": grid_search([2, 3]),
        "double": sample_from(lambda spec: spec.config.width * 2),
        "nested": {"item": sample_from(lambda spec: spec.config["nested"]["base"] + 1),
                   "base": randint(10, 11)},
    }
    variants = generate_variants(space, 1, random.Random(0))
    assert [(v["width"], v["double"], v["nested"]["item"]) for v in variants] == [
        (2, 4, 11), (3, 6, 11)]


def test_sample_from_may_read_another_sample_from_and_take_no_argument():
    space = {"b": sample_from(lambda spec: spec.config.a + 1), "a": sample_from(lambda: 1)}
    assert resolve(space, random.Random(0)) == {"b": 2, "a": 1}


def test_sample_from_cycle_is_reported():
    space = {"a": sample_from(lambda s: s.config.b), "b": sample_from(lambda s: s.config.a)}
    with pytest.raises(ValueError, match="cycle: a, b"):
        resolve(space, random.Random(0))


def test_grid_value_may_hold_domains():
    space = {"opt": grid_search([{"name": "sgd", "lr": uniform(0, 1)}, {"name": "adam"}])}
    variants = expand_grids(space)
    assert [v["opt"]["name"] for v in variants] == ["sgd", "adam"]
    resolved = resolve(variants[0], random.Random(0))
    assert 0 <= resolved["opt"]["lr"] <= 1


def test_resolve_uses_fixed_values_by_path():
    space = {"t": {"lr": uniform(0, 1)}, "n": randint(0, 5)}
    config = resolve(space, random.Random(0), fixed={("t", "lr"): 0.5})
    assert config["t"]["lr"] == 0.5 and 0 <= config["n"] < 5


@pytest.mark.parametrize("num_samples", [0, -1, 1.5, True])
def test_generate_variants_rejects_bad_num_samples(num_samples):
    with pytest.raises(ValueError, match="num_samples"):
        generate_variants({}, num_samples, random.Random(0))
