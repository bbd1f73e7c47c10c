"""ember.core.validation: the one settings checker the core and the libraries share."""

from __future__ import annotations

import dataclasses

import pytest
from ember.core import validation

import ember


def test_an_unknown_key_names_the_closest_valid_one_and_lists_all():
    with pytest.raises(ValueError) as caught:
        validation.reject_unknown("f.options()", {"nmu_cpus": 1}, ["num_cpus", "num_gpus"])
    assert str(caught.value) == ("unknown option 'nmu_cpus' (did you mean 'num_cpus'?) for "
                                 "f.options(); valid options are: num_cpus, num_gpus")


def test_several_unknown_keys_and_one_with_no_close_match():
    with pytest.raises(TypeError, match=r"unknown keys 'xyz', 'zmin' \(did you mean 'min'\?\)"):
        validation.reject_unknown("cfg", ["zmin", "xyz"], ["min", "max"], noun="key",
                                  error=TypeError)
    validation.reject_unknown("cfg", ["min"], ["min", "max"])  # all valid: no error


@pytest.mark.parametrize(("value", "kwargs", "error", "message"), [
    (True, {}, TypeError, "x must be a number, got True"),
    (float("nan"), {}, TypeError, "x must be a number, got nan"),
    (1.5, {"integer": True}, TypeError, "x must be an int, got 1.5"),
    (0, {"minimum": 1, "integer": True}, ValueError, "x must be an int >= 1, got 0"),
    (0, {"above": 0}, ValueError, "x must be a number > 0, got 0"),
    (2, {"minimum": 0, "maximum": 1}, ValueError, "x must be a number >= 0 and <= 1, got 2"),
    ("a", {"minimum": 1 << 20}, TypeError, "x must be a number >= 1048576, got 'a'"),
])
def test_numbers_out_of_range_say_what_is_wanted(value, kwargs, error, message):
    with pytest.raises(error) as caught:
        validation.check_number("x", value, **kwargs)
    assert str(caught.value) == message


def test_a_misspelt_choice_gets_a_suggestion_and_case_slips_too():
    with pytest.raises(ValueError, match=r"got 'detatched' \(did you mean 'detached'\?\)"):
        validation.check_choice("lifetime", "detatched", [None, "detached"])
    with pytest.raises(ValueError, match=r"\(did you mean 'PACK'\?\)"):
        validation.check_choice("strategy", "pack", ["PACK", "SPREAD"])


def test_a_settings_dataclass_suggests_the_keyword_it_was_meant_to_get():
    @validation.suggest_keywords
    @dataclasses.dataclass(frozen=True)
    class Settings:
        num_workers: int = 1

    assert Settings(num_workers=2).num_workers == 2
    with pytest.raises(TypeError, match=r"'num_worker' \(did you mean 'num_workers'\?\) for "
                                        r"Settings\(\)"):
        Settings(num_worker=2)


def test_task_and_actor_options_reject_typos_with_a_suggestion():
    @ember.remote
    def f():
        return 1

    @ember.remote
    class A:
        pass

    with pytest.raises(ValueError, match=r"'nmu_cpus' \(did you mean 'num_cpus'\?\)"):
        f.options(nmu_cpus=1)
    with pytest.raises(ValueError, match=r"'max_restart' \(did you mean 'max_restarts'\?\)"):
        A.options(max_restart=1)
