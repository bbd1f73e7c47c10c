"""numpy batches as torch tensors (torch is imported only when asked for)."""

from __future__ import annotations

from typing import Any


def to_torch(batch: dict[str, Any], dtypes: Any, device: str) -> dict[str, Any]:
    """Each column as a tensor; ``dtypes`` is one torch dtype or a dict per column."""
    try:
        import torch
    except ImportError as error:
        raise ImportError("iter_torch_batches needs torch: pip install 'ember[train]'") from error
    tensors = {}
    for name, values in batch.items():
        dtype = dtypes.get(name) if isinstance(dtypes, dict) else dtypes
        tensor = torch.as_tensor(values.copy() if not values.flags.writeable else values,
                                 dtype=dtype)
        tensors[name] = tensor.to(device) if device != "cpu" else tensor
    return tensors
