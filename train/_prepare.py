"""``prepare_model`` / ``prepare_data_loader``: the two lines that make a single-process
torch loop data-parallel (device placement, DDP, a DistributedSampler)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._session import current
from ._torch_setup import device_for


def get_device() -> Any:
    """The torch device this worker trains on (``cpu``, or its GPU with use_gpu).

    Returns:
        A ``torch.device``: ``cpu``; with ``use_gpu``, ``cuda:0`` when the worker sees
        only its own GPU, else ``cuda:<local rank>``. Outside a run, ``cpu``.

    Raises:
        RuntimeError: ``use_gpu`` is set but the worker sees no GPU.
    """
    import torch

    session = current()
    use_gpu = session.context.use_gpu if session is not None else False
    local_rank = session.context.local_rank if session is not None else 0
    visible = torch.cuda.device_count() if use_gpu else 0
    return torch.device(device_for(use_gpu, local_rank, visible))


def _world_size() -> int:
    session = current()
    return session.context.world_size if session is not None else 1


def prepare_model(model: Any, *, move_to_device: bool = True, parallel_strategy: str | None = "ddp",
                  **ddp_kwargs: Any) -> Any:
    """Move ``model`` to this worker's device and, with more than one worker, wrap it in
    DistributedDataParallel (gradients averaged across workers on ``backward``).

    Args:
        model: a ``torch.nn.Module``.
        move_to_device: True (the default) moves it to ``get_device()``; False leaves
            it where it is.
        parallel_strategy: ``"ddp"`` (the default): wrap in DistributedDataParallel
            when the run has more than one worker; None: never wrap. Ray's ``"fsdp"``
            is not supported.
        **ddp_kwargs: passed to DistributedDataParallel (on a GPU, ``device_ids`` and
            ``output_device`` default to the worker's GPU).

    Returns:
        The model, moved and possibly wrapped (reach the original as ``.module`` when
        wrapped).

    Raises:
        TypeError: ``model`` is not a ``torch.nn.Module``.
        ValueError: ``parallel_strategy`` is neither ``"ddp"`` nor None.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"prepare_model(model=...) takes a torch.nn.Module, got {type(model).__name__}")
    if parallel_strategy not in ("ddp", None):
        raise ValueError(f"prepare_model(parallel_strategy=...) must be 'ddp' or None, got "
                         f"{parallel_strategy!r}")
    device = get_device()
    if move_to_device:
        model = model.to(device)
    if parallel_strategy is None or _world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        ddp_kwargs.setdefault("device_ids", [device.index])
        ddp_kwargs.setdefault("output_device", device.index)
    return DistributedDataParallel(model, **ddp_kwargs)


def prepare_data_loader(data_loader: Any, *, add_dist_sampler: bool = True,
                        move_to_device: bool = True) -> Any:
    """Give each worker its own part of ``data_loader``'s dataset (a DistributedSampler,
    shuffling if the loader shuffled, re-seeded every epoch) and move batches to the
    worker's device.

    Args:
        data_loader: a ``torch.utils.data.DataLoader``.
        add_dist_sampler: True (the default): with more than one worker, rebuild the
            loader with a DistributedSampler (its batch size, workers, collate_fn...
            kept), unless it already has one or its dataset is an IterableDataset
            (then each worker reads all of it). False: keep the loader's sampler.
        move_to_device: True (the default) moves each batch's tensors (also inside
            lists, tuples and dicts) to ``get_device()``; False leaves them.

    Returns:
        An iterable with the loader's length and attributes; each ``for`` loop over it
        is one epoch (the sampler's epoch advances, so shuffles differ).

    Raises:
        TypeError: ``data_loader`` is not a DataLoader.
    """
    import torch
    from torch.utils.data import DataLoader, RandomSampler
    from torch.utils.data.distributed import DistributedSampler

    if not isinstance(data_loader, DataLoader):
        raise TypeError("prepare_data_loader(data_loader=...) takes a torch DataLoader, got "
                        f"{type(data_loader).__name__}")
    loader = data_loader
    needs_sampler = add_dist_sampler and _world_size() > 1 and not isinstance(
        loader.sampler, DistributedSampler)
    if needs_sampler and not isinstance(loader.dataset, torch.utils.data.IterableDataset):
        session = current()
        assert session is not None
        sampler: DistributedSampler[Any] = DistributedSampler(
            loader.dataset, num_replicas=session.context.world_size,
            rank=session.context.world_rank, shuffle=isinstance(loader.sampler, RandomSampler))
        loader = DataLoader(
            loader.dataset, batch_size=loader.batch_size, sampler=sampler,
            num_workers=loader.num_workers, collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory, drop_last=loader.drop_last,
            timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
            persistent_workers=loader.persistent_workers if loader.num_workers else False)
    device = get_device() if move_to_device else None
    return _EpochLoader(loader, device)


class _EpochLoader:
    """Iterates a DataLoader, advancing its DistributedSampler's epoch each pass (so every
    epoch shuffles differently) and moving each batch to the device."""

    def __init__(self, loader: Any, device: Any):
        self.loader = loader
        self.device = device
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def __iter__(self) -> Iterator[Any]:
        set_epoch = getattr(getattr(self.loader, "sampler", None), "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self.epoch)
        self.epoch += 1
        for batch in self.loader:
            yield _to_device(batch, self.device) if self.device is not None else batch


def _to_device(batch: Any, device: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        moved = [_to_device(item, device) for item in batch]
        return type(batch)(moved) if not hasattr(batch, "_fields") else type(batch)(*moved)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    return batch
