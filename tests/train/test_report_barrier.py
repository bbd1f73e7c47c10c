"""The collective report's bookkeeping, with a fake clock and no processes: a report is
committed once every rank made it, and a rank that cannot make it is named."""

from __future__ import annotations

from ember.train._report_barrier import Report, ReportBarrier


def _reports(*epochs: int, index: bool = False) -> list[Report]:
    return [Report({"epoch": e}, e if index else None) for e in epochs]


def test_a_report_is_committed_only_when_every_rank_made_it():
    barrier = ReportBarrier(3)
    barrier.arrive(0, _reports(0, 1, 2, index=True), now=0.0)
    barrier.arrive(1, _reports(0, 1), now=0.0)
    assert barrier.ready(now=0.0) == []  # rank 2 has made none
    barrier.arrive(2, _reports(0), now=1.0)
    assert barrier.ready(now=1.0) == [Report({"epoch": 0}, 0)]
    barrier.arrive(2, _reports(1, 2), now=2.0)
    assert barrier.ready(now=2.0) == [Report({"epoch": 1}, 1)]  # rank 1 has not made #3
    assert barrier.committed == 2


def test_the_committed_report_is_rank_0s():
    barrier = ReportBarrier(2)
    barrier.arrive(1, [Report({}, None)], now=0.0)
    barrier.arrive(0, [Report({"loss": 0.5}, 7)], now=0.0)
    assert barrier.ready(now=0.0) == [Report({"loss": 0.5}, 7)]


def test_a_finished_rank_that_others_wait_for_is_named():
    barrier = ReportBarrier(2)
    barrier.arrive(0, _reports(0, 1), now=0.0)
    barrier.arrive(1, _reports(0), now=0.0)
    barrier.ready(now=0.0)
    assert barrier.unmatched() is None  # rank 1 may still report
    barrier.finish(1)
    message = barrier.unmatched()
    assert message is not None
    assert "rank(s) [1] returned from the training loop after 1 report(s)" in message
    assert "rank(s) [0] called ember.train.report() #2" in message
    assert not barrier.done()


def test_done_when_every_rank_finished_with_nothing_left():
    barrier = ReportBarrier(2)
    for rank in (0, 1):
        barrier.arrive(rank, _reports(0), now=0.0)
        barrier.finish(rank)
    assert not barrier.done()  # report #1 not handed out yet
    barrier.ready(now=0.0)
    assert barrier.done() and barrier.unmatched() is None


def test_late_says_who_waits_for_whom_and_since_when():
    barrier = ReportBarrier(3)
    assert barrier.late(now=5.0) is None
    barrier.arrive(2, _reports(0), now=10.0)
    barrier.arrive(0, _reports(0), now=11.0)
    late = barrier.late(now=70.0)
    assert late is not None
    assert (late.number, late.arrived, late.missing, late.waited_s) == (1, [0, 2], [1], 60.0)
    assert "wait for rank(s) [1]" in late.describe()
    barrier.arrive(1, _reports(0), now=71.0)
    barrier.ready(now=71.0)
    assert barrier.late(now=80.0) is None  # nobody is ahead any more
