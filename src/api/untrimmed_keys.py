"""Idempotency keys sent with surrounding spaces: the run a release that kept them in the key started.

Releases before trimming derived a run id from the key as sent (`"booking-4711 "`); since then the id is
the trimmed key's. A client retrying across the upgrade must still get the run it started, not a second
run that sends every message again. So where trimming changed a key, a run already started under the
untrimmed key's id answers the trigger, as a repeat would have; otherwise the trimmed key's id applies.
Keys that trimming left alone (the normal case) cost nothing; the others cost one read of run heads for
the whole request.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from api.api_keys import Principal
from api.resources import Resources
from engine.commands import run_id_for_key


async def run_ids_for_keys(
    resources: Resources, principal: Principal, journey_id: UUID, keys: Sequence[tuple[str, str]]
) -> list[UUID]:
    """The run id of each `(as sent, trimmed)` key of a trigger of `journey_id`, in order."""
    tenant = principal.tenant_id
    run_ids = [run_id_for_key(tenant, journey_id, trimmed) for _, trimmed in keys]
    untrimmed = {sent: run_id_for_key(tenant, journey_id, sent) for sent, trimmed in keys if sent != trimmed}
    if not untrimmed:
        return run_ids
    async with resources.for_tenant(principal) as scope:
        found = await scope.heads.load(set(untrimmed.values()))
    earlier = {
        sent: run_id
        for sent, run_id in untrimmed.items()
        if run_id in found and found[run_id].journey_id == journey_id
    }
    return [earlier.get(sent, run_id) for (sent, _), run_id in zip(keys, run_ids, strict=True)]
