"""When handled offsets reach Kafka: at most once an interval, on revoke, never for a lost partition."""

from __future__ import annotations

from aiokafka import TopicPartition

from events.offsets import KafkaCommits

P0, P1, P2 = (TopicPartition("run-events", n) for n in range(3))


class _Consumer:
    """Stands in for the Kafka client: which partitions this member owns, and the commits it was asked for."""

    def __init__(self, owned: set[TopicPartition]) -> None:
        self.owned = owned
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def _commits(interval: float, now: list[float]) -> KafkaCommits:
    return KafkaCommits(interval, clock=lambda: now[0])


async def test_handled_offsets_are_committed_at_most_once_an_interval_each_at_its_newest() -> None:
    now = [10.0]
    commits, consumer = _commits(1.0, now), _Consumer({P0, P1})

    commits.handled({P0: 5})
    await commits.commit_due(consumer)  # type: ignore[arg-type]
    commits.handled({P0: 9, P1: 3})
    now[0] = 10.5
    await commits.commit_due(consumer)  # type: ignore[arg-type]
    commits.handled({P1: 4})
    now[0] = 11.0
    await commits.commit_due(consumer)  # type: ignore[arg-type]
    await commits.commit_due(consumer)  # type: ignore[arg-type]

    assert consumer.commits == [{P0: 5}, {P0: 9, P1: 4}]


async def test_an_interval_of_zero_commits_after_every_batch() -> None:
    now = [10.0]
    commits, consumer = _commits(0.0, now), _Consumer({P0})

    for offset in (1, 2, 3):
        commits.handled({P0: offset})
        await commits.commit_due(consumer)  # type: ignore[arg-type]

    assert consumer.commits == [{P0: 1}, {P0: 2}, {P0: 3}]


async def test_a_revoke_commits_the_revoked_partitions_at_once_and_keeps_the_rest_waiting() -> None:
    now = [10.0]
    commits, consumer = _commits(60.0, now), _Consumer({P0, P1, P2})
    commits.handled({P2: 1})
    await commits.commit_due(consumer)  # type: ignore[arg-type]
    commits.handled({P0: 7, P1: 8})

    await commits.commit(consumer, {P1})  # type: ignore[arg-type]
    await commits.commit(consumer)  # type: ignore[arg-type]

    assert consumer.commits == [{P2: 1}, {P1: 8}, {P0: 7}]


async def test_offsets_of_a_partition_this_member_lost_are_never_committed() -> None:
    now = [10.0]
    commits, consumer = _commits(60.0, now), _Consumer({P0, P1})
    commits.handled({P0: 4, P1: 6})
    consumer.owned = {P0}  # P1 went to another member, which reads it from the last commit

    await commits.commit(consumer)  # type: ignore[arg-type]
    consumer.owned = {P0, P1}  # assigned back later: the old offset is not committed over the new owner's
    await commits.commit(consumer)  # type: ignore[arg-type]

    assert consumer.commits == [{P0: 4}]


async def test_a_revoke_does_not_put_off_the_next_commit_of_the_other_partitions() -> None:
    now = [10.0]
    commits, consumer = _commits(1.0, now), _Consumer({P0, P1})
    await commits.commit(consumer, {P1})  # type: ignore[arg-type]  # a revoke with nothing handled yet
    commits.handled({P0: 3})

    await commits.commit_due(consumer)  # type: ignore[arg-type]

    assert consumer.commits == [{P0: 3}]
