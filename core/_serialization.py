"""Turn values into a pickle-5 header plus out-of-band buffers, and back.

    dumps(value) -> Serialized(header, buffers, contained_refs)
    loads(header, buffers) -> value     (buffers may be read-only shared-memory views)

Large numpy arrays, Arrow buffers and CPU torch tensors leave their data out of band,
so the object store can place it once in shared memory and every reader maps it
without a copy. ObjectRefs met while pickling are recorded, so the store knows which
objects an object keeps alive.
"""

from __future__ import annotations

import io
import pickle
import sys
import threading
import types
import warnings
from typing import Any, NamedTuple

import cloudpickle  # type: ignore[import-untyped]

_local = threading.local()


class Serialized(NamedTuple):
    header: bytes
    buffers: list[memoryview]
    contained_refs: list[int]

    @property
    def buffer_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)


def note_contained_ref(object_id: int) -> None:
    """Called by ``ObjectRef.__reduce__`` so the enclosing ``dumps`` records the ref."""
    refs = getattr(_local, "refs", None)
    if refs is not None:
        refs.append(object_id)


def _tensor_from_numpy(array: Any, requires_grad: bool) -> Any:
    import torch

    with warnings.catch_warnings():
        # The array is a read-only shared-memory view; torch warns because it has no
        # read-only tensors. Ember documents that objects are immutable.
        warnings.simplefilter("ignore", UserWarning)
        tensor = torch.from_numpy(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


class _Pickler(cloudpickle.CloudPickler):  # type: ignore[misc]  # cloudpickle is untyped
    """cloudpickle, plus zero-copy CPU torch tensors via their numpy view."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.CodeType:
            return _code_reduce_keeping_filename(obj)
        torch = sys.modules.get("torch")
        if torch is not None and type(obj) is torch.Tensor and _numpy_compatible(obj, torch):
            return _tensor_from_numpy, (obj.detach().numpy(), obj.requires_grad)
        return super().reducer_override(obj)


def _code_reduce_keeping_filename(code: types.CodeType) -> Any:
    """cloudpickle's code reducer, but keeping ``co_filename``: remote tracebacks then
    name the user's file and show the failing line instead of ``<dynamic-code>``."""
    constructor, args = cloudpickle.cloudpickle._code_reduce(code)
    return constructor, tuple(code.co_filename if a == "<dynamic-code>" else a for a in args)


def _numpy_compatible(tensor: Any, torch: Any) -> bool:
    return (tensor.device.type == "cpu" and tensor.layout == torch.strided
            and not tensor.is_conj() and not tensor.is_neg() and tensor.is_contiguous()
            and tensor.dtype not in (torch.bfloat16,) and tensor.nbytes >= 1024
            and (tensor.requires_grad is False or tensor.is_leaf))


_PLAIN_SCALARS = frozenset({type(None), bool, int, float, str, bytes, complex})
_EMPTY: list[Any] = []


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Builtin scalars and small containers of them: the C pickler handles these exactly
    like cloudpickle does, ten times faster (most task arguments and results)."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if depth > 1:
        return False
    if kind is tuple or kind is list:
        if len(value) > 16:
            return False
        for item in value:
            if type(item) not in _PLAIN_SCALARS and not _is_plain(item, depth + 1):
                return False
        return True
    if kind is dict:
        if len(value) > 16:
            return False
        for key, item in value.items():
            if type(key) is not str or (
                    type(item) not in _PLAIN_SCALARS and not _is_plain(item, depth + 1)):
                return False
        return True
    return False


def is_plain(value: Any) -> bool:
    """Whether ``value`` is builtin scalars in small lists/tuples/dicts (no refs inside)."""
    return _is_plain(value)


def plain_dumps(value: Any) -> bytes:
    """Pickle a value for which ``is_plain`` holds."""
    return pickle.dumps(value, protocol=5)


def dumps(value: Any) -> Serialized:
    """Serialize ``value``; raise ``TypeError`` naming what could not be pickled."""
    if _is_plain(value):
        return Serialized(pickle.dumps(value, protocol=5), _EMPTY, _EMPTY)
    buffers: list[memoryview] = []
    outer = getattr(_local, "refs", None)
    refs: list[int] = []
    _local.refs = refs
    try:
        stream = io.BytesIO()
        _Pickler(stream, protocol=5, buffer_callback=lambda b: buffers.append(b.raw())).dump(value)
    except Exception as error:
        raise TypeError(_describe_unpicklable(value, error)) from error
    finally:
        _local.refs = outer
    return Serialized(stream.getvalue(), buffers, refs)


def dumps_function(function: Any, name: str) -> bytes:
    """cloudpickle a task's function once; errors name the function and the culprit."""
    try:
        stream = io.BytesIO()
        _Pickler(stream, protocol=5).dump(function)
        return stream.getvalue()
    except Exception as error:
        raise TypeError(
            f"could not serialize remote function {name!r}: {error}. A remote function "
            "is shipped to worker processes by value; it must not capture locks, open "
            "files, sockets or other process-local objects in its globals or closure."
        ) from error


def loads(header: bytes, buffers: list[Any] | tuple[Any, ...] = ()) -> Any:
    return pickle.loads(header, buffers=buffers)


def _describe_unpicklable(value: Any, error: Exception) -> str:
    path = find_unpicklable(value, "value")
    return f"could not serialize {path}: {error}"


def find_unpicklable(value: Any, path: str, depth: int = 0) -> str:
    """The deepest attribute/item path inside ``value`` that fails to pickle."""
    if depth > 6:
        return path
    children: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        children = [(f"{path}[{k!r}]", v) for k, v in list(value.items())[:1000]]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(list(value)[:1000])]
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        children = [(f"{path}.{k}", v) for k, v in list(vars(value).items())[:1000]]
    for child_path, child in children:
        try:
            cloudpickle.dumps(child, protocol=5)
        except Exception:  # noqa: BLE001 - any error: this child does not pickle
            return find_unpicklable(child, child_path, depth + 1)
    return f"{path} (of type {type(value).__qualname__})"
