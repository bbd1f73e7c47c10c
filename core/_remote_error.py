"""Carry a user's exception across processes with its type and its user-level traceback.

    worker: exception -> capture(exc, name) -> RemoteError (picklable: type, object, text)
    caller: RemoteError.to_exception() -> TaskError that is also the user's class

The traceback keeps only the user's frames: frames inside Ember's own package are
dropped, because they explain nothing to the person whose code failed.
"""

from __future__ import annotations

import os
import pickle
import traceback
from dataclasses import dataclass
from typing import Any, cast

import cloudpickle  # type: ignore[import-untyped]

from .exceptions import TaskError

_EMBER_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENGINE_DIRS = tuple(
    os.path.join(_EMBER_ROOT, name) + os.sep for name in ("core", "ember")
) + (os.path.dirname(os.path.abspath(__file__)) + os.sep,)


def _is_engine_frame(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_ENGINE_DIRS) and "/tests/" not in filename


def user_traceback(exc: BaseException) -> str:
    """Format ``exc`` with Ember's own frames removed."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__)
        if not _is_engine_frame(frame.filename)
    ]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


@dataclass(frozen=True)
class RemoteError:
    """A picklable record of a failure in another process."""

    function_name: str
    traceback_text: str
    exception_bytes: bytes | None
    """The cloudpickled (class, args, attributes) of the exception, or None."""

    def to_exception(self) -> TaskError:
        cause = None
        if self.exception_bytes is not None:
            try:
                cause = _rebuild_exception(*pickle.loads(self.exception_bytes))
            except Exception:  # noqa: BLE001 - its class may not import or rebuild here;
                # the text still explains
                cause = None
        return make_task_error(self.function_name, self.traceback_text, cause)


def capture(exc: BaseException, function_name: str) -> RemoteError:
    """Record ``exc`` raised by ``function_name`` so another process can re-raise it."""
    text = user_traceback(exc)
    if isinstance(exc, SystemExit):
        # Re-raised in the caller, a SystemExit would end the driver (silently, with
        # status 0 for sys.exit()): it is an ordinary task failure instead.
        text += (f"{function_name} called sys.exit({exc.code!r}) (exit code "
                 f"{exit_code(exc)}); a task cannot end its worker, so Ember reports it as "
                 "a failure of the task: raise an exception or return a value instead\n")
        return RemoteError(function_name, text, None)
    if isinstance(exc, TaskError) and exc.cause is not None:
        exc = exc.cause  # re-raised from a nested get: keep the original type
    try:
        state = (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
        payload: bytes | None = cloudpickle.dumps(state)
    except Exception:  # noqa: BLE001 - any object may sit in the args or attributes
        payload = None
    return RemoteError(function_name, text, payload)


def exit_code(exc: SystemExit) -> int:
    """The process exit status ``sys.exit(code)`` asks for (None is 0, text is 1)."""
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def _rebuild_exception(cls: type[BaseException], args: tuple[Any, ...],
                       attributes: dict[str, Any]) -> BaseException:
    """Recreate an exception without calling its ``__init__``, whose signature may not
    match ``args`` (a common pattern that breaks plain pickling of exceptions)."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(attributes)
    return error


_dual_classes: dict[type, type[TaskError] | None] = {}


def make_task_error(function_name: str, text: str, cause: BaseException | None) -> TaskError:
    """A ``TaskError`` that is also an instance of ``type(cause)``.

    This needs a class deriving from both. DESIGN.md makes that a contract
    (``except ValueError`` must catch a remote ValueError), so it is the one place
    Ember derives from a user's class; it is cached per class and never alters it.
    """
    if cause is None or isinstance(cause, TaskError):
        if isinstance(cause, TaskError):
            return cause
        return TaskError(function_name, text)
    cls = _dual_class(type(cause))
    if cls is None:
        return TaskError(function_name, text, cause)
    error = cls.__new__(cls)
    error.args = cause.args
    try:
        error.__dict__.update(getattr(cause, "__dict__", {}))
    except (AttributeError, TypeError):
        pass
    error.function_name = function_name
    error.traceback_text = text
    error.cause = cause
    notes = getattr(cause, "__notes__", None)
    if notes and all(str(note) in text for note in notes):
        # The notes are in the traceback text already: printed there once, not again
        # under the chained cause and after the message.
        error.__dict__.pop("__notes__", None)
        try:
            del cause.__notes__
        except AttributeError:
            pass
    # The traceback is in str(error); chain the original exception (type and message)
    # so Python's report shows it once, without repeating the traceback.
    error.__cause__ = cause
    return error


def _dual_class(user_class: type) -> type[TaskError] | None:
    if user_class in _dual_classes:
        return _dual_classes[user_class]
    if not issubclass(user_class, Exception):
        # SystemExit, KeyboardInterrupt, GeneratorExit: raising one of those in the
        # caller would end or interrupt it instead of reporting the failure.
        return None
    dual: type[TaskError] | None
    try:
        dual = cast("type[TaskError]", type(  # a class made at run time: mypy sees a type
            f"TaskError({user_class.__name__})",
            (TaskError, user_class),
            {"__module__": "ember.exceptions", "__reduce__": _reduce_dual,
             "__str__": TaskError.__str__, "__init__": TaskError.__init__},
        ))
    except TypeError:  # e.g. a final class or an incompatible C layout
        dual = None
    _dual_classes[user_class] = dual
    return dual


def _reduce_dual(error: TaskError) -> tuple[Any, ...]:
    return (make_task_error, (error.function_name, error.traceback_text, error.cause))
