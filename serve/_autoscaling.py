"""The autoscaling policy: a pure function of (config, state, now, observation).

    wanted = ceil(total ongoing requests / target_ongoing_requests), within [min, max]

More replicas are added only once ``wanted`` has stayed above the current count for
``upscale_delay_s``; fewer only once it has stayed below for ``downscale_delay_s``
(scaling down flaps more expensively than it saves). The state remembers since when
the deployment has wanted to move; the caller passes the clock in, so tests use a
fake one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._config import AutoscalingConfig


@dataclass(frozen=True)
class ScalingState:
    """Since when (clock seconds) more or fewer replicas have been wanted, if at all."""

    want_up_since: float | None = None
    want_down_since: float | None = None


def wanted_replicas(config: AutoscalingConfig, total_ongoing: float) -> int:
    raw = math.ceil(total_ongoing / config.target_ongoing_requests - 1e-9)
    return max(config.min_replicas, min(config.max_replicas, raw))


def decide(config: AutoscalingConfig, state: ScalingState, now: float, current: int,
           total_ongoing: float) -> tuple[int, ScalingState]:
    """(replica count to run, new state) given ``current`` replicas and their load.

    Example (target 2 per replica, 6 ongoing on 1 replica, upscale_delay_s=3)::

        decide(cfg, ScalingState(), now=0, current=1, total_ongoing=6)  -> (1, up since 0)
        decide(cfg, state,          now=3, current=1, total_ongoing=6)  -> (3, reset)
    """
    wanted = wanted_replicas(config, total_ongoing)
    if current < config.min_replicas or current > config.max_replicas:
        return max(config.min_replicas, min(config.max_replicas, current)), ScalingState()
    if wanted > current:
        since = state.want_up_since if state.want_up_since is not None else now
        if now - since >= config.upscale_delay_s:
            return wanted, ScalingState()
        return current, ScalingState(want_up_since=since)
    if wanted < current:
        since = state.want_down_since if state.want_down_since is not None else now
        if now - since >= config.downscale_delay_s:
            return wanted, ScalingState()
        return current, ScalingState(want_down_since=since)
    return current, ScalingState()
