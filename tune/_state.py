"""The experiment's state on disk, appended as it happens, so a killed driver loses
nothing finished and ``Tuner.restore`` can pick up where it stopped.

    storage_path/name/
        tuner.pkl                 the trainable, param space and configs (written once)
        searcher.pkl              the searcher's state (rewritten when it suggests a trial)
        experiment_state.jsonl    one JSON event per line, appended and flushed:
                                  {"event": "trial", "trial_id", "config", "trial_dir"}
                                  {"event": "result", "trial_id", "result"}
                                  {"event": "checkpoint", "trial_id", "path", "metrics"}
                                  {"event": "status", "trial_id", "status", "error"}
        <trial_name>/             the trial's checkpoints and its result.json (one line
                                  per result)
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import cloudpickle
from ember.train import Checkpoint

from ._trial import ERROR, PENDING, TERMINATED, Trial

EVENTS = "experiment_state.jsonl"
TUNER = "tuner.pkl"
SEARCHER = "searcher.pkl"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass
    return repr(value)


class ExperimentState:
    """Appends the experiment's events under ``path`` (a local folder)."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self._events = open(os.path.join(path, EVENTS), "a", encoding="utf-8")  # noqa: SIM115

    def save_searcher(self, searcher: Any) -> None:
        save = getattr(searcher, "save", None)
        if callable(save):
            partial = os.path.join(self.path, SEARCHER + ".partial")
            save(partial)
            os.replace(partial, os.path.join(self.path, SEARCHER))

    def _append(self, event: dict[str, Any]) -> None:
        self._events.write(json.dumps(_jsonable(event)) + "\n")
        self._events.flush()

    def trial_added(self, trial: Trial) -> None:
        os.makedirs(trial.trial_dir, exist_ok=True)
        self._append({"event": "trial", "trial_id": trial.trial_id, "config": trial.config,
                      "trial_dir": trial.trial_dir})
        with open(os.path.join(trial.trial_dir, "params.json"), "w", encoding="utf-8") as out:
            json.dump(_jsonable(trial.config), out)

    def result(self, trial: Trial, result: dict[str, Any]) -> None:
        self._append({"event": "result", "trial_id": trial.trial_id, "result": result})
        with open(os.path.join(trial.trial_dir, "result.json"), "a", encoding="utf-8") as out:
            out.write(json.dumps(_jsonable(result)) + "\n")

    def checkpoint(self, trial: Trial, checkpoint: Checkpoint, metrics: dict[str, Any]) -> None:
        self._append({"event": "checkpoint", "trial_id": trial.trial_id,
                      "path": checkpoint.path, "metrics": metrics})

    def status(self, trial: Trial) -> None:
        self._append({"event": "status", "trial_id": trial.trial_id, "status": trial.status,
                      "error": trial.error, "config": trial.config})

    def close(self) -> None:
        self._events.close()


def save_tuner(path: str, payload: dict[str, Any]) -> None:
    """The experiment's recipe, as the user gave it (before searchers take their space)."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, TUNER), "wb") as out:
        cloudpickle.dump(payload, out)


def load_tuner(path: str) -> dict[str, Any]:
    """The recipe ``save_tuner`` wrote in experiment folder ``path``; a ValueError naming
    the path and the fix when ``path`` is not an experiment or its file is damaged."""
    if os.path.isfile(path):
        raise ValueError(f"Tuner.restore({path!r}): that is a file; pass the experiment "
                         f"folder that holds {TUNER} (storage_path/name)")
    if not os.path.isdir(path):
        raise ValueError(f"Tuner.restore({path!r}): no experiment there (no such folder); "
                         "pass the folder storage_path/name of an earlier Tuner.fit() "
                         "(ResultGrid.experiment_path)")
    file = os.path.join(path, TUNER)
    if not os.path.exists(file):
        raise ValueError(f"Tuner.restore({path!r}): no experiment there (no {TUNER}); pass the "
                         "folder storage_path/name of an earlier Tuner.fit()")
    loaded = unpickle(file, "Tuner.restore")
    if not isinstance(loaded, dict) or not {"trainable", "param_space", "tune_config",
                                            "run_config"} <= set(loaded):
        raise ValueError(f"Tuner.restore: {file} is not a tuner's state (it holds "
                         f"{type(loaded).__name__}); restore the experiment folder an earlier "
                         "Tuner.fit() wrote, or start the experiment again with Tuner(...).fit()")
    return loaded


def unpickle(file: str, caller: str) -> Any:
    """What ``file`` holds, or a ValueError saying which file is damaged and what to do
    (a raw UnpicklingError/EOFError names neither)."""
    try:
        with open(file, "rb") as source:
            return cloudpickle.load(source)
    except (ModuleNotFoundError, AttributeError) as error:
        raise ValueError(f"{caller}: {file} refers to code this process cannot import "
                         f"({type(error).__name__}: {error}); run where that module is "
                         "importable, or pass the trainable: Tuner.restore(path, "
                         "trainable=...)") from error
    except Exception as error:  # UnpicklingError, EOFError, ValueError...: a damaged file
        raise ValueError(f"{caller}: {file} is corrupt or truncated ({type(error).__name__}: "
                         f"{error}); restore from a backup copy of the experiment folder, or "
                         "start the experiment again with Tuner(...).fit()") from error


def load_trials(path: str) -> list[Trial]:
    """The trials as the events left them; unfinished ones are PENDING again, to resume
    from their latest checkpoint."""
    trials: dict[str, Trial] = {}
    checkpoints: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for event in _events(path):
        trial = trials.get(event.get("trial_id", ""))
        kind = event["event"]
        if kind == "trial":
            trials[event["trial_id"]] = Trial(event["trial_id"], event["config"],
                                              trial_dir=event["trial_dir"])
        elif trial is None:
            continue
        elif kind == "result":
            trial.results.append(event["result"])
            trial.last_result = event["result"]
        elif kind == "checkpoint":
            trial.checkpoint = Checkpoint(event["path"])
            checkpoints.setdefault(trial.trial_id, []).append((event["path"], event["metrics"]))
        elif kind == "status":
            trial.status, trial.error = event["status"], event.get("error")
            trial.config = event.get("config", trial.config)
    for trial in trials.values():
        if trial.status not in (TERMINATED, ERROR):
            trial.status = PENDING
        on_disk = _latest_on_disk(trial.trial_dir)
        if on_disk is not None and (trial.checkpoint is None or on_disk > trial.checkpoint.path):
            trial.checkpoint = Checkpoint(on_disk)  # persisted, but the driver died before noting it
        elif trial.checkpoint is not None and not os.path.isdir(trial.checkpoint.path):
            kept = [p for p, _ in checkpoints.get(trial.trial_id, []) if os.path.isdir(p)]
            trial.checkpoint = Checkpoint(kept[-1]) if kept else None
    return list(trials.values())


_FIELDS = {"trial": ("trial_id", "config", "trial_dir"), "result": ("trial_id", "result"),
           "checkpoint": ("trial_id", "path", "metrics"), "status": ("trial_id", "status")}


def _events(path: str) -> list[dict[str, Any]]:
    """The events in ``path``'s log. A last line without its newline is where a killed
    driver stopped writing, and is dropped; any other bad line is damage, named with the
    file and line so the user can mend or remove it."""
    file = os.path.join(path, EVENTS)
    try:
        with open(file, encoding="utf-8") as source:
            lines = source.readlines()
    except FileNotFoundError:
        raise ValueError(f"Tuner.restore({path!r}): no {EVENTS} next to {TUNER}; the "
                         "experiment's trials are lost, start it again with Tuner(...).fit()"
                         ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"Tuner.restore: cannot read {file} ({type(error).__name__}: "
                         f"{error}); restore from a backup copy of the experiment folder, or "
                         "start the experiment again with Tuner(...).fit()") from error
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.endswith("\n"):
            break  # the driver died mid-line: nothing after it was written
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = None
        kind = event.get("event") if isinstance(event, dict) else None
        fields = _FIELDS.get(kind, ()) if isinstance(kind, str) else None  # newer kinds: kept
        if event is None or fields is None or not all(key in event for key in fields):
            raise ValueError(f"Tuner.restore: {file} line {number} is not an experiment event "
                             f"({line[:80]!r}); the file is damaged: remove that line (the "
                             "trial it belongs to then runs again) or start the experiment "
                             "again with Tuner(...).fit()")
        events.append(event)
    return events


def _latest_on_disk(trial_dir: str) -> str | None:
    """The trial's newest complete checkpoint folder (``checkpoint_NNNNNN``)."""
    try:
        names = os.listdir(trial_dir)
    except FileNotFoundError:
        return None
    numbered = sorted(n for n in names if n.startswith("checkpoint_") and n[11:].isdigit())
    return os.path.join(trial_dir, numbered[-1]) if numbered else None
