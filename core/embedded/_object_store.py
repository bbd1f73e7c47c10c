"""The driver's object directory: where each object lives and who keeps it alive.

    put/seal ──> READY ──(refcount 0, no pins)──> freed (arena range or file released)
                   │  ▲
    arena full ──> spill (LRU, unpinned) ──> FILE ──(read)──> restored into the arena

An object stays while anything refers to it: a process holding an ObjectRef (each
process counts once), an object containing it, or a queued task using it. A reader's
zero-copy views *pin* it: pinned objects are neither spilled nor reused until the
views are gone. Not thread-safe: the node calls it under its lock.
"""

from __future__ import annotations

import errno
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable

from ..exceptions import ObjectLostError, ObjectStoreFullError
from . import _payload as P
from ._allocator import Allocator
from ._arena import Arena, allocation_size, buffer_offsets, write_file

INLINE_THRESHOLD = 100 * 1024
"""Objects whose buffers total less than this travel inside messages."""


class Entry:
    __slots__ = ("callbacks", "contained", "freed", "payload", "pins", "refcount")

    def __init__(self) -> None:
        self.payload: P.Payload | None = None  # None while the producing task runs
        self.refcount = 0
        self.pins = 0
        self.contained: tuple[int, ...] = ()
        self.callbacks: list[Callable[[], None]] | None = None
        self.freed = False


class ObjectStore:
    def __init__(self, arena: Arena, spill_dir: str):
        self.arena = arena
        self.allocator = Allocator(arena.capacity)
        self.spill_dir = spill_dir
        self.entries: dict[int, Entry] = {}
        self._resident: OrderedDict[int, None] = OrderedDict()  # arena objects, LRU first
        self._unpinned_zombies: dict[int, Entry] = {}
        self.spilled_count = 0
        self.restored_count = 0
        self._spill_counter = 0
        self.drop_hooks: dict[int, Callable[[int], None]] = {}  # called when an id is freed

    # -- lifecycle -------------------------------------------------------------------
    def create(self, object_id: int, refcount: int = 1) -> Entry:
        entry = self.entries.get(object_id)
        if entry is None:
            entry = self.entries[object_id] = Entry()
        entry.refcount += refcount
        return entry

    def seal(self, object_id: int, payload: P.Payload, contained: Iterable[int] = ()) -> None:
        """Record the value of ``object_id`` and wake whoever waits for it."""
        entry = self.entries.get(object_id)
        if entry is None or entry.payload is not None:
            self._release_payload(payload)  # nobody wants it any more, or a retry raced
            return
        contained = tuple(contained)
        for inner in contained:
            self.incref(inner)
        entry.payload, entry.contained = payload, contained
        if payload[0] == P.ARENA:
            self._resident[object_id] = None
        callbacks, entry.callbacks = entry.callbacks, None
        if entry.refcount <= 0:
            for inner in self._drop(object_id, entry):
                self.decref(inner)
        for callback in callbacks or ():
            callback()

    def on_ready(self, object_id: int, callback: Callable[[], None]) -> bool:
        """Call ``callback`` once the object is sealed; False if it already is."""
        entry = self.entries.get(object_id)
        if entry is None or entry.payload is not None:
            return False
        if entry.callbacks is None:
            entry.callbacks = []
        entry.callbacks.append(callback)
        return True

    def is_ready(self, object_id: int) -> bool:
        entry = self.entries.get(object_id)
        return entry is None or entry.payload is not None

    # -- reference counting ------------------------------------------------------------
    def incref(self, object_id: int) -> None:
        entry = self.entries.get(object_id)
        if entry is not None:
            entry.refcount += 1

    def decref(self, object_id: int) -> None:
        stack = [object_id]
        while stack:
            current = stack.pop()
            entry = self.entries.get(current)
            if entry is None:
                continue
            entry.refcount -= 1
            if entry.refcount <= 0 and entry.payload is not None:
                stack.extend(self._drop(current, entry))

    def _drop(self, object_id: int, entry: Entry) -> tuple[int, ...]:
        """Forget an unreferenced object; its memory goes when the last pin does."""
        del self.entries[object_id]
        self._resident.pop(object_id, None)
        entry.freed = True
        if entry.pins > 0:
            self._unpinned_zombies[object_id] = entry
        else:
            self._release_payload(entry.payload)
        contained, entry.contained = entry.contained, ()
        hook = self.drop_hooks.pop(object_id, None)
        if hook is not None:
            hook(object_id)
        return contained  # the caller decrefs what this object kept alive

    def pin(self, object_id: int) -> None:
        entry = self.entries.get(object_id) or self._unpinned_zombies.get(object_id)
        if entry is not None:
            entry.pins += 1

    def unpin(self, object_id: int) -> None:
        entry = self.entries.get(object_id)
        if entry is not None:
            entry.pins -= 1
            return
        zombie = self._unpinned_zombies.get(object_id)
        if zombie is not None:
            zombie.pins -= 1
            if zombie.pins <= 0:
                del self._unpinned_zombies[object_id]
                self._release_payload(zombie.payload)

    # -- reading -----------------------------------------------------------------------
    def payload_for_read(self, object_id: int) -> P.Payload:
        """The object's payload, restored into the arena first if it was spilled."""
        entry = self.entries.get(object_id)
        if entry is None or entry.payload is None:
            raise ObjectLostError(f"object {object_id:x} is not available: it was freed")
        payload = entry.payload
        if payload[0] == P.ARENA:
            self._resident.move_to_end(object_id)
        elif payload[0] == P.FILE:
            payload = self._restore(object_id, entry)
        return payload

    # -- memory ------------------------------------------------------------------------
    def allocate(self, size: int, *, keep: int | None = None) -> int | None:
        """An arena offset for ``size`` bytes, spilling LRU objects; None if they can't fit."""
        offset = self.allocator.allocate(size)
        while offset is None:
            victim = self._spill_victim(keep)
            if victim is None:
                return None
            self._spill(victim)
            offset = self.allocator.allocate(size)
        return offset

    def free_allocation(self, offset: int) -> None:
        self.allocator.free(offset)

    def put_buffers(self, header: bytes, buffers: list[memoryview]) -> P.Payload:
        """Place a serialized value's buffers in the arena, or in a file if it can't fit."""
        lengths = [b.nbytes for b in buffers]
        offset = self.allocate(allocation_size(lengths))
        if offset is not None:
            self.arena.write(offset, buffers)
            return (P.ARENA, header, offset, lengths)
        path = self.new_spill_path()
        self.write_file(path, buffers)
        return (P.FILE, header, path, lengths)

    def new_spill_path(self) -> str:
        self._spill_counter += 1
        return os.path.join(self.spill_dir, f"object-{self._spill_counter}.bin")

    def write_file(self, path: str, buffers: list[memoryview]) -> None:
        try:
            write_file(path, buffers)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ObjectStoreFullError(
                    f"the object store ({self.arena.capacity} bytes) is full and spilling "
                    f"to {self.spill_dir} failed: disk full. Free objects (drop their "
                    "ObjectRefs), raise object_store_memory, or point EMBER_SPILL_DIR at a "
                    "larger disk") from error
            raise

    def _spill_victim(self, keep: int | None) -> int | None:
        for object_id in self._resident:
            if object_id != keep and self.entries[object_id].pins == 0:
                return object_id
        return None

    def _spill(self, object_id: int) -> None:
        entry = self.entries[object_id]
        assert entry.payload is not None  # resident objects are sealed
        _, header, offset, lengths = entry.payload
        path = self.new_spill_path()
        self.write_file(path, [self.arena.copy_out(offset + start, length)
                               for start, length in zip(buffer_offsets(lengths), lengths)])
        del self._resident[object_id]
        self.allocator.free(offset)
        entry.payload = (P.FILE, header, path, lengths)
        self.spilled_count += 1

    def _restore(self, object_id: int, entry: Entry) -> P.Payload:
        assert entry.payload is not None  # only sealed (FILE) payloads are restored
        _, header, path, lengths = entry.payload
        if entry.pins > 0:
            return entry.payload  # someone maps the file right now; keep serving it
        offset = self.allocate(allocation_size(lengths), keep=object_id)
        if offset is None:
            return entry.payload  # bigger than the arena can hold: read from the file
        try:
            with open(path, "rb") as handle:
                handle.readinto(self.arena.copy_out(offset, allocation_size(lengths)))
        except FileNotFoundError as error:
            self.allocator.free(offset)
            raise ObjectLostError(
                f"object {object_id:x} was spilled to {path}, which is gone") from error
        os.unlink(path)
        entry.payload = (P.ARENA, header, offset, lengths)
        self._resident[object_id] = None
        self.restored_count += 1
        return entry.payload

    def _release_payload(self, payload: P.Payload | None) -> None:
        if payload is None:
            return
        if payload[0] == P.ARENA:
            self.allocator.free(payload[2])
        elif payload[0] == P.FILE:
            try:
                os.unlink(payload[2])
            except FileNotFoundError:
                pass

    # -- introspection -----------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        return {
            "objects": len(self.entries),
            "arena_bytes_used": self.allocator.used_bytes,
            "arena_capacity": self.allocator.capacity,
            "spilled_objects": sum(1 for e in self.entries.values()
                                   if e.payload is not None and e.payload[0] == P.FILE),
            "spilled_total": self.spilled_count,
            "restored_total": self.restored_count,
        }
