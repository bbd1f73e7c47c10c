"""The cluster backend: Ember's API on a Dask distributed cluster.

    driver (DaskBackend, owns a Client)
      f.remote()        ── client.submit(run_task) ──> scheduler ──> a worker thread
      actor.f.remote()  ── one RPC straight to the actor's worker (_direct), or a relay
                           task when the call has ref arguments (_actor_directory)
      put / get         ── scatter / gather straight to the workers
    worker process (DaskBackend.attach: the same API inside tasks and actors)
      run_task / ActorHost (_tasks, _actors) ── user code; nested calls use the worker's
      own client; a blocking get secedes from Dask's thread pool while it waits

Threads and locks: user threads call the Client (thread-safe); Dask's event loop thread
runs direct actor calls and future callbacks hand off to Dask's callback thread (or
``_direct``'s settler thread), never blocking the loop. ``DaskBackend._lock`` guards the
refs kept alive for transfer; ``_materializing`` serializes sending a direct call's
value to the cluster.

Modules: ``_backend`` (the Backend protocol on Dask), ``_tasks`` and ``_actors`` (what
runs on workers), ``_actor_directory`` (actors: creation, calls, names, restarts),
``_direct`` (direct actor calls), ``_groups`` (placement groups), ``_resources``
(where a demand can run), ``_cancel``, ``_output`` (worker prints to the driver),
``_local`` (the LocalCluster process for ``backend="dask"``).

One deferred import: a worker's first task creates that worker's backend
(``_tasks.attach_worker_runtime`` imports ``_backend``), while ``_backend`` submits
those tasks; the import happens inside the function, at run time on the worker.
"""
