"""Ember's exception types: what went wrong, and what to do about it.

Every error Ember raises on behalf of the system derives from :class:`EmberError`.
A user's exception inside a task surfaces as :class:`TaskError`, which is *also* an
instance of the user's own exception class, so ``except ValueError`` keeps working
across process boundaries.
"""

from __future__ import annotations

__all__ = [
    "ActorDiedError",
    "EmberError",
    "GetTimeoutError",
    "InfeasibleResourcesError",
    "NotSupportedOnBackend",
    "ObjectLostError",
    "ObjectStoreFullError",
    "TaskCancelledError",
    "TaskError",
    "WorkerCrashedError",
]


class EmberError(Exception):
    """Base class of every error Ember raises for a system reason."""


class TaskError(EmberError):
    """A user exception raised inside a task or actor call.

    The object the caller catches is an instance of both ``TaskError`` and the user's
    exception class. ``str(error)`` holds the remote traceback (user frames only);
    ``error.cause`` is the original exception object and ``error.function_name`` names
    the task that raised it.
    """

    def __init__(self, function_name: str, traceback_text: str, cause: BaseException | None = None):
        super().__init__(function_name, traceback_text)
        self.function_name = function_name
        self.traceback_text = traceback_text
        self.cause = cause

    def __str__(self) -> str:
        return f"task {self.function_name} failed:\n{self.traceback_text.rstrip()}"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (TaskError, (self.function_name, self.traceback_text, self.cause))


class WorkerCrashedError(EmberError):
    """The worker process running a task died (killed, crashed or out of memory)."""


class ActorDiedError(EmberError):
    """An actor's process died and will not be restarted, or its constructor raised."""


class GetTimeoutError(EmberError, TimeoutError):
    """``get`` or ``wait`` ran out of time before the objects were ready."""


class TaskCancelledError(EmberError):
    """The task producing this object was cancelled with ``ember.cancel``."""


class ObjectLostError(EmberError):
    """An object's data is gone (its spill file vanished or its owner shut down)."""


class ObjectStoreFullError(EmberError):
    """The object store and the spill directory are both full."""


class InfeasibleResourcesError(EmberError, ValueError):
    """A task or actor asks for more resources than the cluster has in total."""


class NotSupportedOnBackend(EmberError):
    """The active backend cannot provide this feature; the message names the alternative."""
