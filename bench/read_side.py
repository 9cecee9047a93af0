"""How far the read side (the projector, audit and analytics groups) is behind the run-events topic.

No run waits for these groups: a run completes without them, so a scenario that stops at the last run's
completion neither counts the CPU they still spend on its records nor sees them fall behind. `capacity`
waits for them with `read_side_behind` before it closes a step. The projector stores its offsets with its
rows (`projector_offsets`); the subscribers commit theirs to Kafka, at most once a second.
"""

from __future__ import annotations

import asyncpg

from events.broker import KafkaConnection, make_admin

READ_SIDE_ROLES = ("projector", "audit", "analytics")


async def read_side_behind(
    kafka: KafkaConnection, pool: asyncpg.Pool, topic: str, groups: dict[str, str], ends: dict[int, int]
) -> dict[str, int]:
    """Each read-side role's records not yet handled (as its stored offsets say) of those before `ends`
    (partition -> end offset); `groups` maps each role to its consumer group."""
    positions = {"projector": await _projector_positions(pool, groups["projector"], topic)}
    admin = make_admin(kafka)
    await admin.start()
    try:
        for role in READ_SIDE_ROLES[1:]:
            committed = await admin.list_consumer_group_offsets(groups[role])
            positions[role] = {
                tp.partition: int(o.offset) for tp, o in committed.items() if tp.topic == topic
            }
    finally:
        await admin.close()
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
