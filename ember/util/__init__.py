"""``ember.util``: helpers built on the core API, under Ray's names (``ray.util``).

- ``ActorPool``: spread calls over a fixed set of actors.
- ``ember.util.queue.Queue``: a FIFO queue shared by tasks and actors.
"""

from ember.util._actor_pool import ActorPool

__all__ = ["ActorPool"]
