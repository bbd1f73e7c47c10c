"""A uniform replay buffer of n-step transitions, stored as preallocated numpy rings."""

from __future__ import annotations

import numpy as np


class ReplayBuffer:
    """Keeps the last ``capacity`` transitions; ``sample`` draws uniformly with replacement."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.columns: dict[str, np.ndarray] = {}
        self.next = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, batch: dict[str, np.ndarray]) -> None:
        """Append rows (every column has the same first dimension)."""
        count = len(next(iter(batch.values())))
        if not self.columns:
            self.columns = {key: np.empty((self.capacity, *value.shape[1:]), dtype=value.dtype)
                            for key, value in batch.items()}
        index = (self.next + np.arange(count)) % self.capacity
        for key, value in batch.items():
            self.columns[key][index] = value
        self.next = int((self.next + count) % self.capacity)
        self.size = min(self.capacity, self.size + count)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        index = rng.integers(0, self.size, batch_size)
        return {key: column[index] for key, column in self.columns.items()}
