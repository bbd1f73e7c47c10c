"""@serve.batch: concurrent calls grouped into one call on a list."""

from __future__ import annotations

import asyncio
import concurrent.futures

import httpx
import pytest

from ember import serve


class Recorder:
    def __init__(self):
        self.sizes = []

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.5)
    async def double(self, items):
        self.sizes.append(len(items))
        return [2 * item for item in items]

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def wrong_length(self, items):
        return items[:-1]


def test_concurrent_calls_form_batches_up_to_max_batch_size():
    async def main():
        recorder = Recorder()
        results = await asyncio.gather(*(recorder.double(i) for i in range(10)))
        return recorder.sizes, results

    sizes, results = asyncio.run(main())
    assert results == [2 * i for i in range(10)]
    assert sizes == [4, 4, 2]  # the last batch waited batch_wait_timeout_s for more


def test_a_lone_call_runs_after_the_timeout():
    async def main():
        recorder = Recorder()
        return await recorder.double(21), recorder.sizes

    assert asyncio.run(main()) == (42, [1])


def test_wrong_number_of_results_fails_every_caller_of_the_batch():
    async def main():
        recorder = Recorder()
        return await asyncio.gather(*(recorder.wrong_length(i) for i in range(3)),
                                    return_exceptions=True)

    errors = asyncio.run(main())
    assert all(isinstance(e, TypeError) and "must return a list of 3" in str(e) for e in errors)


def test_batched_function_without_self_and_bad_arguments():
    @serve.batch(max_batch_size=2, batch_wait_timeout_s=0)
    async def square(items):
        return [x * x for x in items]

    async def main():
        return await asyncio.gather(square(2), square(3))

    assert asyncio.run(main()) == [4, 9]
    with pytest.raises(ValueError, match="max_batch_size must be an int >= 1"):
        serve.batch(max_batch_size=0)
    with pytest.raises(TypeError, match="batch_wait_timeout_s must be a number"):
        serve.batch(batch_wait_timeout_s="1")


@serve.deployment(num_cpus=0)
class BatchedModel:
    def __init__(self):
        self.sizes = []

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.2)
    async def predict(self, inputs):
        self.sizes.append(len(inputs))
        return [x + 1 for x in inputs]

    async def __call__(self, request):
        return {"y": await self.predict(float((await request.body()).decode()))}

    def batch_sizes(self):
        return self.sizes


def test_http_requests_are_batched_in_the_replica(port):
    handle = serve.run(BatchedModel.bind(), port=port)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: httpx.post(
            f"http://127.0.0.1:{port}/", content=str(i).encode(), timeout=30).json()["y"],
            range(8)))
    assert results == [i + 1.0 for i in range(8)]
    sizes = handle.batch_sizes.remote().result()
    assert sum(sizes) == 8 and max(sizes) > 1


def test_batch_size_raises_default_max_ongoing_requests():
    from ember.serve._application import flatten

    _, [spec] = flatten(BatchedModel.bind(), "default")
    assert spec.max_ongoing == 16  # twice the batch size, so a batch can fill
    _, [spec] = flatten(BatchedModel.options(max_ongoing_requests=3).bind(), "default")
    assert spec.max_ongoing == 3
