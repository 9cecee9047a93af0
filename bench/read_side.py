"""How far the read side (the projector, audit and analytics groups) is behind the run-events topic.

No run waits for these groups: a run completes without them, so a scenario that stops at the last run's
completion neither counts the CPU they still spend on its records nor sees them fall behind. `capacity`
waits for them with `ReadSideProgress` before it closes a step. The projector stores its offsets with its
rows (`projector_offsets`); the subscribers commit theirs to Kafka, at most once a second.
"""

from __future__ import annotations

import asyncpg

from events.broker import KafkaConnection, make_admin

_SUBSCRIBERS = ("audit", "analytics")  # the read-side roles whose offsets are committed to Kafka


class ReadSideProgress:
    """How far each read-side role is behind, read as often as asked over one admin client kept open."""

    def __init__(
        self, kafka: KafkaConnection, pool: asyncpg.Pool, topic: str, groups: dict[str, str]
    ) -> None:
        self._admin = make_admin(kafka)
        self._pool = pool
        self._topic = topic
        self._groups = groups  # role -> its consumer group

    async def __aenter__(self) -> ReadSideProgress:
        await self._admin.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._admin.close()

    async def behind(self, ends: dict[int, int]) -> dict[str, int]:
        """Each read-side role's records not yet handled (as its stored offsets say) of those before `ends`
        (partition -> end offset)."""
        positions = {
            "projector": await _projector_positions(self._pool, self._groups["projector"], self._topic)
        }
        for role in _SUBSCRIBERS:
            committed = await self._admin.list_consumer_group_offsets(self._groups[role])
            positions[role] = {
                tp.partition: int(o.offset) for tp, o in committed.items() if tp.topic == self._topic
            }
        return {
            role: sum(max(0, end - held.get(partition, 0)) for partition, end in ends.items())
            for role, held in positions.items()
        }


async def _projector_positions(pool: asyncpg.Pool, group: str, topic: str) -> dict[int, int]:
    rows = await pool.fetch(
        "SELECT partition, next_offset FROM projector_offsets WHERE consumer_group = $1 AND topic = $2",
        group,
        topic,
    )
    return {int(row["partition"]): int(row["next_offset"]) for row in rows}
