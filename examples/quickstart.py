"""A short tour of Ember's core: tasks, objects and errors, on this machine.

Run it with ``make run`` (or ``python examples/quickstart.py``); it takes a few seconds.
Every ``ember.*`` call below means the same under ``import ember as ray``.
"""

import time

import numpy as np

import ember

# Start the embedded engine in this process: no daemon to install, two CPUs for tasks.
ember.init(num_cpus=2)


# A remote function runs as a task in a worker process. f.remote() returns an
# ObjectRef at once; ember.get() waits for the value.
@ember.remote
def square(x):
    return x * x


print("squares:", ember.get([square.remote(i) for i in range(5)]))


# Refs passed as arguments are resolved before the task runs, so tasks chain into a
# pipeline and the intermediate values never pass through this script.
@ember.remote
def add(a, b):
    return a + b


print("3*3 + 4*4 =", ember.get(add.remote(square.remote(3), square.remote(4))))

# put() stores a large array once in shared memory. Every task given the ref maps the
# same memory instead of receiving a copy; objects are immutable, so views are read-only.
matrix_ref = ember.put(np.ones((1000, 1000)))  # 8 MB, stored once


@ember.remote
def column_sum(matrix, column):
    return float(matrix[:, column].sum())


print("column sums:", ember.get([column_sum.remote(matrix_ref, c) for c in range(3)]))
matrix = ember.get(matrix_ref)
try:
    matrix[0, 0] = 5.0
except ValueError as error:
    print("the shared array is read-only:", error, "(use matrix.copy() to modify)")


# num_returns=2: one ref per returned value.
@ember.remote(num_returns=2)
def min_max(values):
    return min(values), max(values)


low_ref, high_ref = min_max.remote([7, 3, 9, 1])
print("min and max:", ember.get([low_ref, high_ref]))


# wait() returns the refs that are ready first, so results can be used as they land.
@ember.remote
def nap(seconds):
    time.sleep(seconds)
    return seconds


ready, not_ready = ember.wait([nap.remote(0.5), nap.remote(0.1)], num_returns=1)
print(f"first to finish: the {ember.get(ready[0])} s nap; {len(not_ready)} still running")


# An exception in a task reaches the caller as the same exception type; its message
# holds the task's traceback.
@ember.remote
def parse(text):
    return int(text)


try:
    ember.get(parse.remote("twelve"))
except ValueError as error:
    print("caught the task's ValueError:", str(error).splitlines()[-1])


# Tasks can submit tasks. A task blocked in get() lends its CPU back meanwhile, so
# nesting cannot deadlock even when every CPU is busy.
@ember.remote
def sum_of_squares(n):
    return sum(ember.get([square.remote(i) for i in range(n)]))


print("sum of squares below 10:", ember.get(sum_of_squares.remote(10)))



# An actor is a class running in its own process: its state lives between calls, and
# calls from one caller run in the order they were made.
@ember.remote
class Tally:
    def __init__(self):
        self.total = 0

    def add(self, amount):
        self.total += amount
        return self.total


tally = Tally.remote()
for amount in (5, 10, 20):
    tally.add.remote(amount)
print("actor total:", ember.get(tally.add.remote(0)))


# A generator task streams its items as they are produced.
@ember.remote(num_returns="streaming")
def countdown(n):
    yield from range(n, 0, -1)


print("streamed:", [ember.get(ref) for ref in countdown.remote(3)])

resources = ember.cluster_resources()
print(f"cluster: {resources['CPU']:g} CPUs, "
      f"{resources['object_store_memory'] / 2**30:.1f} GiB object store")
ember.shutdown()
print("done")
