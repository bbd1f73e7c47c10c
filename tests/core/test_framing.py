"""ember.core.framing: the one wire format of the engine's channels and serve's links."""

from __future__ import annotations

import pickle

from ember.core import framing


def test_messages_come_back_whole_however_the_bytes_are_cut():
    messages = [("h", 1, {"path": "/"}, b"x" * 1000), ("k", 2), list(range(50))]
    stream = framing.encode_many(messages)
    assert stream == b"".join(framing.encode(m) for m in messages)
    for piece in (1, 3, 7, 64, len(stream)):
        decoder = framing.FrameDecoder()
        received = []
        for start in range(0, len(stream), piece):
            received += decoder.feed(stream[start:start + piece])
        assert received == messages


def test_a_frame_is_a_little_endian_length_and_a_pickle():
    frame = framing.encode(("x", 1))
    body = pickle.dumps(("x", 1), protocol=5)
    assert frame == len(body).to_bytes(4, "little") + body
    decoder = framing.FrameDecoder()
    assert decoder.feed(frame[:3]) == []  # an incomplete header waits for the rest
    assert decoder.feed(memoryview(frame)[3:]) == [("x", 1)]
