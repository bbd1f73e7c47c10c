"""The Searcher protocol and BasicVariantGenerator: grids × num_samples, seeded draws,
points_to_evaluate first, None when exhausted, and save/restore mid-way."""

from __future__ import annotations

import pytest
from ember.tune._search_space import choice, grid_search, randint, sample_from, uniform
from ember.tune._searcher import BasicVariantGenerator, Searcher


def _all(searcher, limit=100):
    configs = []
    for i in range(limit):
        config = searcher.suggest(f"t{i}")
        if config is None:
            return configs
        configs.append(config)
    raise AssertionError("the searcher never ran out")


def test_grid_times_num_samples_then_none():
    gen = BasicVariantGenerator({"a": grid_search([1, 2, 3]), "b": uniform(0, 1)}, num_samples=2)
    configs = _all(gen)
    assert [c["a"] for c in configs] == [1, 2, 3, 1, 2, 3]
    assert gen.suggest("late") is None


def test_same_seed_gives_same_configs_and_other_seed_differs():
    space = {"lr": uniform(0, 1), "units": randint(1, 1000)}
    first = _all(BasicVariantGenerator(space, num_samples=5, seed=3))
    assert first == _all(BasicVariantGenerator(space, num_samples=5, seed=3))
    assert first != _all(BasicVariantGenerator(space, num_samples=5, seed=4))


def test_points_to_evaluate_come_first_completed_from_the_space_and_count():
    space = {"lr": uniform(0, 1), "opt": {"name": choice(["sgd", "adam"]), "mom": 0.9}}
    gen = BasicVariantGenerator(space, num_samples=3, seed=0,
                                points_to_evaluate=[{"lr": 5.0, "opt": {"name": "rms"}}])
    configs = _all(gen)
    assert len(configs) == 3
    assert configs[0] == {"lr": 5.0, "opt": {"name": "rms", "mom": 0.9}}
    assert all(0 <= c["lr"] <= 1 for c in configs[1:])


def test_a_point_leaving_a_grid_open_expands_it():
    gen = BasicVariantGenerator({"a": grid_search([1, 2]), "b": uniform(0, 1)},
                                num_samples=1, points_to_evaluate=[{"b": 7}])
    assert _all(gen) == [{"a": 1, "b": 7}, {"a": 2, "b": 7}]


def test_space_comes_from_set_search_properties():
    gen = BasicVariantGenerator(num_samples=2, seed=0)
    assert gen.set_search_properties("loss", "min", {"x": randint(0, 3)}) is True
    assert gen.metric == "loss" and gen.mode == "min"
    assert len(_all(gen)) == 2


def test_two_spaces_are_refused():
    gen = BasicVariantGenerator({"x": 1})
    assert gen.set_search_properties(None, None, {"y": 2}) is False


def test_save_and_restore_continue_where_suggestions_stopped(tmp_path):
    space = {"x": uniform(0, 1), "y": sample_from(lambda spec: spec.config.x * 2)}
    reference = _all(BasicVariantGenerator(space, num_samples=4, seed=1))
    gen = BasicVariantGenerator(space, num_samples=4, seed=1)
    first = [gen.suggest("t0"), gen.suggest("t1")]
    gen.save(str(tmp_path / "searcher.pkl"))
    restored = BasicVariantGenerator()
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert first + _all(restored) == reference


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"num_samples": 0}, ValueError, "num_samples=0"),
        ({"points_to_evaluate": {"a": 1}}, TypeError, "points_to_evaluate"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    with pytest.raises(error, match=words):
        BasicVariantGenerator({}, **kwargs)


def test_bad_mode_is_named():
    with pytest.raises(ValueError, match="mode must be"):
        BasicVariantGenerator().set_search_properties("m", "maximize", None)


class _Counting(Searcher):
    """A searcher written against the protocol only: proposes x=0, 1, 2 then stops."""

    def __init__(self):
        super().__init__(metric="score", mode="max")
        self.completed = {}

    def suggest(self, trial_id):
        n = len(self.completed) + getattr(self, "live", 0)
        if n >= 3:
            return None
        self.live = getattr(self, "live", 0) + 1
        return {"x": n}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.live -= 1
        self.completed[trial_id] = None if error else result


def test_a_minimal_searcher_needs_only_suggest_and_saves_its_attributes(tmp_path):
    searcher = _Counting()
    assert searcher.set_search_properties("other", "min", None) is True
    assert (searcher.metric, searcher.mode) == ("score", "max")  # constructor wins
    assert searcher.suggest("a") == {"x": 0}
    searcher.on_trial_result("a", {"score": 1})
    searcher.on_trial_complete("a", {"score": 1})
    searcher.save(str(tmp_path / "s.pkl"))
    again = _Counting()
    again.restore(str(tmp_path / "s.pkl"))
    assert again.completed == {"a": {"score": 1}}
    assert [again.suggest("b"), again.suggest("c"), again.suggest("d")] == [
        {"x": 1}, {"x": 2}, None]
