"""Search spaces: the domains a ``param_space`` holds, and how a space becomes configs.

A param space is a nested dict (lists allowed) whose leaves are constants, ``Domain``
objects (``uniform(0, 1)``, ``choice([...])``, ...), Ray's grid marker
``{"grid_search": [...]}`` or ``sample_from(fn)``::

    param_space ──expand grids──▶ one space per grid combination (× num_samples)
                ──sample domains─▶ every Domain replaced by a value drawn with ``rng``
                ──sample_from────▶ fn(spec) with spec.config = the config so far
                = a resolved config: plain dicts, lists and values

Searchers address leaves by *paths*: tuples of keys, e.g. ``("train_loop_config", "lr")``
(``walk``, ``get_path``, ``set_path``).
"""

from __future__ import annotations

import abc
import inspect
import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ember.core import validation

Path = tuple[Any, ...]


class Domain(abc.ABC):
    """A set of values a hyperparameter may take; ``sample`` draws one."""

    @abc.abstractmethod
    def sample(self, rng: random.Random) -> Any:
        """One value of the domain, drawn with ``rng``."""


def _check_number(name: str, value: Any, fn: str) -> None:
    validation.check_number(f"{fn}(): {name}", value)


def _check_bounds(lower: Any, upper: Any, fn: str) -> None:
    _check_number("lower", lower, fn)
    _check_number("upper", upper, fn)
    if not lower < upper:
        raise ValueError(
            f"{fn}(lower={lower!r}, upper={upper!r}): lower must be smaller than upper; "
            "swap them or widen the range"
        )


class Uniform(Domain):
    """A float drawn uniformly from ``[lower, upper]``."""

    def __init__(self, lower: float, upper: float) -> None:
        _check_bounds(lower, upper, "uniform")
        self.lower, self.upper = float(lower), float(upper)

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.lower, self.upper)

    def __repr__(self) -> str:
        return f"uniform({self.lower}, {self.upper})"


class LogUniform(Domain):
    """A float whose logarithm is uniform: as many draws in [1e-4, 1e-3] as in [0.1, 1]."""

    def __init__(self, lower: float, upper: float, base: float = 10) -> None:
        _check_bounds(lower, upper, "loguniform")
        if lower <= 0:
            raise ValueError(
                f"loguniform(lower={lower!r}): lower must be > 0 (a log scale never reaches "
                "0); use a small positive lower such as 1e-8, or uniform()"
            )
        _check_number("base", base, "loguniform")
        if base <= 0 or base == 1:
            raise ValueError(f"loguniform(base={base!r}): base must be > 0 and != 1, e.g. 10")
        self.lower, self.upper, self.base = float(lower), float(upper), float(base)

    def sample(self, rng: random.Random) -> float:
        exponent = rng.uniform(math.log(self.lower, self.base), math.log(self.upper, self.base))
        value: float = self.base**exponent
        return min(max(value, self.lower), self.upper)

    def __repr__(self) -> str:
        return f"loguniform({self.lower}, {self.upper}, base={self.base})"


class QUniform(Domain):
    """A uniform float rounded to a multiple of ``q``, kept inside ``[lower, upper]``."""

    def __init__(self, lower: float, upper: float, q: float) -> None:
        _check_bounds(lower, upper, "quniform")
        _check_number("q", q, "quniform")
        if q <= 0:
            raise ValueError(f"quniform(q={q!r}): q must be > 0, e.g. 0.1")
        if math.ceil(lower / q) * q > upper:
            raise ValueError(
                f"quniform(lower={lower!r}, upper={upper!r}, q={q!r}): no multiple of q "
                "lies in [lower, upper]; use a smaller q or a wider range"
            )
        self.lower, self.upper, self.q = float(lower), float(upper), float(q)

    def sample(self, rng: random.Random) -> float:
        steps = round(rng.uniform(self.lower, self.upper) / self.q)
        steps = min(max(steps, math.ceil(self.lower / self.q)), math.floor(self.upper / self.q))
        # Round away float noise such as 0.30000000000000004 (q=0.1, 3 steps).
        return round(steps * self.q, 12)

    def __repr__(self) -> str:
        return f"quniform({self.lower}, {self.upper}, q={self.q})"


class RandInt(Domain):
    """An integer from ``lower`` (included) to ``upper`` (excluded), as ``range``."""

    def __init__(self, lower: int, upper: int) -> None:
        for name, value in (("lower", lower), ("upper", upper)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"randint({name}={value!r}): {name} must be an int")
        if not lower < upper:
            raise ValueError(
                f"randint(lower={lower!r}, upper={upper!r}): lower must be smaller than "
                "upper (upper is excluded, as in range())"
            )
        self.lower, self.upper = lower, upper

    def sample(self, rng: random.Random) -> int:
        return rng.randrange(self.lower, self.upper)

    def __repr__(self) -> str:
        return f"randint({self.lower}, {self.upper})"


class Choice(Domain):
    """One of ``categories``, each equally likely."""

    def __init__(self, categories: Sequence[Any]) -> None:
        if isinstance(categories, (str, bytes, dict)) or not isinstance(categories, Sequence):
            raise TypeError(
                f"choice(categories={categories!r}): categories must be a list or tuple, "
                "e.g. choice([16, 32, 64])"
            )
        if len(categories) == 0:
            raise ValueError("choice(categories=[]): categories must not be empty")
        self.categories = list(categories)

    def sample(self, rng: random.Random) -> Any:
        return rng.choice(self.categories)

    def __repr__(self) -> str:
        return f"choice({self.categories!r})"


class _Unresolved(Exception):
    """Raised when a sample_from reads a value that is not resolved yet."""


class _ConfigView(dict):  # type: ignore[type-arg]
    """The partially resolved config a ``sample_from`` function sees as ``spec.config``:
    a dict that also answers attribute access (``spec.config.lr``), as Ray's does."""

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        if isinstance(value, SampleFrom):
            raise _Unresolved(key)
        return _ConfigView(value) if isinstance(value, dict) else value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class _Spec:
    """The object passed to a ``sample_from`` function."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = _ConfigView(config)


class SampleFrom(Domain):
    """A value computed by ``fn(spec)`` once the config's other values are resolved."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(
                f"sample_from(fn={fn!r}): fn must be callable, "
                "e.g. sample_from(lambda spec: spec.config.lr * 2)"
            )
        self.fn = fn
        try:
            self._takes_spec = len(inspect.signature(fn).parameters) > 0
        except (TypeError, ValueError):  # builtins without a signature
            self._takes_spec = True

    def sample(self, rng: random.Random, config: dict[str, Any] | None = None) -> Any:
        return self.fn(_Spec(config or {})) if self._takes_spec else self.fn()

    def __repr__(self) -> str:
        return f"sample_from({self.fn!r})"


def uniform(lower: float, upper: float) -> Uniform:
    """A float uniformly drawn from ``[lower, upper]``: ``uniform(0.0, 0.5)``.

    Args:
        lower: the smallest value; a number below ``upper``.
        upper: the largest value.
    """
    return Uniform(lower, upper)


def loguniform(lower: float, upper: float, base: float = 10) -> LogUniform:
    """A float uniform on a log scale, for learning rates: ``loguniform(1e-4, 1e-1)``.

    Args:
        lower: the smallest value; must be > 0 and below ``upper``.
        upper: the largest value.
        base: the logarithm's base (default 10); must be > 0 and != 1.
    """
    return LogUniform(lower, upper, base)


def quniform(lower: float, upper: float, q: float) -> QUniform:
    """A uniform float rounded to a multiple of ``q``: ``quniform(0, 1, 0.25)``.

    Args:
        lower: the smallest value; a number below ``upper``.
        upper: the largest value (draws stay inside ``[lower, upper]``).
        q: the step, > 0; some multiple of it must lie in ``[lower, upper]``.
    """
    return QUniform(lower, upper, q)


def randint(lower: int, upper: int) -> RandInt:
    """An int in ``[lower, upper)`` (upper excluded, as Ray): ``randint(1, 5)`` → 1..4.

    Args:
        lower: the smallest value (included); an int below ``upper``.
        upper: the bound (excluded), an int, as in ``range``.
    """
    return RandInt(lower, upper)


def choice(categories: Sequence[Any]) -> Choice:
    """One of the categories, drawn at random: ``choice(["relu", "tanh"])``.

    Args:
        categories: a non-empty list or tuple of values, each equally likely.
    """
    return Choice(categories)


def grid_search(values: Sequence[Any]) -> dict[str, list[Any]]:
    """Try every value: ``grid_search([1, 2, 3])`` → Ray's marker ``{"grid_search": [...]}``.

    Several grids in one space give their cartesian product; ``num_samples`` repeats it.

    Args:
        values: a non-empty list of the values to try (each may hold domains or grids).
    """
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
        raise TypeError(
            f"grid_search(values={values!r}): values must be a list, e.g. grid_search([1, 2])"
        )
    if len(values) == 0:
        raise ValueError("grid_search(values=[]): values must not be empty")
    return {"grid_search": list(values)}


def sample_from(fn: Callable[..., Any]) -> SampleFrom:
    """A value computed from the rest of the config, Ray-style:
    ``sample_from(lambda spec: spec.config["width"] * 2)`` (``fn()`` with no argument works).

    Args:
        fn: a callable taking ``spec`` (``spec.config`` is the config resolved so far,
            readable as a dict or by attribute) or no argument; its return is the value.
    """
    return SampleFrom(fn)


# --- walking nested spaces ----------------------------------------------------------


def is_grid(value: Any) -> bool:
    """True for Ray's grid marker ``{"grid_search": [...]}``."""
    return isinstance(value, dict) and len(value) == 1 and "grid_search" in value


def walk(space: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield ``(path, leaf)`` for every leaf of a nested dict/list; grid markers and
    domains are leaves."""
    if isinstance(space, dict) and not is_grid(space):
        for key, value in space.items():
            yield from walk(value, (*prefix, key))
    elif isinstance(space, list):
        for index, value in enumerate(space):
            yield from walk(value, (*prefix, index))
    else:
        yield prefix, space


def get_path(config: Any, path: Path) -> Any:
    """``config[path[0]][path[1]]...``."""
    for key in path:
        config = config[key]
    return config


def set_path(config: Any, path: Path, value: Any) -> None:
    """Set ``config[path[0]]...[path[-1]] = value``, creating missing dicts on the way."""
    for key in path[:-1]:
        if isinstance(config, dict):
            config = config.setdefault(key, {})
        else:
            config = config[key]
    config[path[-1]] = value


def domains(space: dict[str, Any]) -> dict[Path, Domain]:
    """Every ``Domain`` leaf of ``space`` (``SampleFrom`` included) by path."""
    return {path: leaf for path, leaf in walk(space) if isinstance(leaf, Domain)}


def _copy_structure(space: Any) -> Any:
    """Fresh dicts and lists (so variants never share them); leaves are kept as they are."""
    if isinstance(space, dict) and not is_grid(space):
        return {key: _copy_structure(value) for key, value in space.items()}
    if isinstance(space, list):
        return [_copy_structure(value) for value in space]
    return space


def expand_grids(space: dict[str, Any]) -> list[dict[str, Any]]:
    """One copy of ``space`` per combination of its grid values (cartesian product, the
    first grid varying slowest); a grid value may itself hold domains or grids."""
    grids = [(path, leaf["grid_search"]) for path, leaf in walk(space) if is_grid(leaf)]
    if not grids:
        return [_copy_structure(space)]
    expanded: list[dict[str, Any]] = []
    for values in itertools.product(*(choices for _, choices in grids)):
        variant = _copy_structure(space)
        for (path, _), value in zip(grids, values):
            set_path(variant, path, _copy_structure(value))
        expanded.extend(expand_grids(variant))  # grids nested inside grid values
    return expanded


def resolve(
    space: dict[str, Any], rng: random.Random, fixed: dict[Path, Any] | None = None
) -> dict[str, Any]:
    """A config from a grid-free space: domains take ``fixed[path]`` when given, else a
    draw from ``rng``; then ``sample_from`` functions run, each seeing the values
    resolved so far (one that reads another unresolved sample_from waits for it)."""
    fixed = fixed or {}
    config: dict[str, Any] = _copy_structure(space)
    pending: list[tuple[Path, SampleFrom]] = []
    for path, leaf in walk(config):
        if is_grid(leaf):
            raise ValueError(f"resolve: grid_search at {path} must be expanded first")
        if path in fixed:
            set_path(config, path, fixed[path])
        elif isinstance(leaf, SampleFrom):
            pending.append((path, leaf))
        elif isinstance(leaf, Domain):
            set_path(config, path, leaf.sample(rng))
    while pending:
        waiting = []
        for path, leaf in pending:
            try:
                set_path(config, path, leaf.sample(rng, config))
            except _Unresolved:
                waiting.append((path, leaf))
        if len(waiting) == len(pending):
            names = ", ".join("/".join(map(str, path)) for path, _ in waiting)
            raise ValueError(f"sample_from values depend on each other in a cycle: {names}")
        pending = waiting
    return config


def generate_variants(
    param_space: dict[str, Any], num_samples: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Resolved configs: every grid combination, ``num_samples`` times over, with random
    domains drawn per config. ``generate_variants({"a": grid_search([1, 2]),
    "b": uniform(0, 1)}, 2, rng)`` gives 4 configs."""
    if not isinstance(param_space, dict):
        raise TypeError(f"param_space must be a dict, got {type(param_space).__name__}")
    validation.check_number("num_samples", num_samples, minimum=1, integer=True,
                            type_error=ValueError)
    grids = expand_grids(param_space)
    return [resolve(space, rng) for _ in range(num_samples) for space in grids]
