"""The embedded engine: ``ember.init()`` with nothing to install or start.

The driver process is the node; workers are processes forked by a zygote.

    driver process
      user threads ─ submit / put / get / wait ─┐
                                                 ▼   node lock (one RLock, _node.Node.lock)
                     Scheduler (pure)  ObjectStore (arena + spill)  ActorDirectory  Streams
                                                 ▲
      I/O thread (_node_io) ─ epoll over worker sockets ─ MessageHandlers ─ EXEC batches
      log thread (_log_forwarder) ─ workers' stdout/stderr ─ labelled lines to the driver
    zygote (_zygote) ─ forks workers in milliseconds, reports SPAWNED / EXITED
    worker process (_worker, _actor_worker) ─ one socket pair to the driver (_protocol),
      objects read from the shared-memory arena (_arena) without copies

Locking rules, in one place:
- Every change to node state (tasks, objects, actors, placement groups, streams) happens
  under the node lock, from a user thread or the I/O thread. Nothing under it blocks:
  no socket sends that can wait, no user code, no logging.
- Work that must happen after a change but outside the lock (waking a ``get``, logging
  a warning) is queued on ``Node.after_lock`` and run once the lock is released.
- Reference-count events arrive from any thread, even inside garbage collection: they
  are queued lock-free (``ref_events``) and applied under the lock by the next holder.
- A channel's ``send`` takes only that channel's own send lock.

Modules: ``_node`` (the node, the coordinator), ``_node_calls`` / ``_node_actors`` /
``_node_io`` / ``_node_handlers`` (its task, actor, I/O and message duties),
``_scheduler`` (pure placement decisions), ``_object_store`` / ``_arena`` /
``_allocator`` (objects), ``_actors`` (actor lifecycles), ``_streams`` (generator
items), ``_waits`` (resource-wait warnings), ``_worker*`` / ``_zygote`` (processes).
"""
