"""Tenants in the store: the default tenant of rows from before tenancy, and binding a transaction to one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from uuid import UUID

if TYPE_CHECKING:  # the catalogue imports this module, and the domain must import no I/O library
    from events.pg import Connection

DEFAULT_TENANT_ID: Final = UUID("00000000-0000-4000-8000-000000000001")
"""Named "default" (migration 0015): rows written before tenancy, and runs started outside any tenant."""

TENANT_SETTING: Final = "pjs.tenant_id"
"""The transaction-local setting the row-level security policies compare each row's tenant_id with."""

TENANT_HEADER: Final = "ce_pjstenantid"
"""The CloudEvents extension naming a run event's tenant on the topic."""


async def bind_tenant(connection: Connection, tenant_id: UUID) -> None:
    """Bind the open transaction to `tenant_id`: row-level security then shows and admits only its rows.

    Transaction-local (`is_local`), so a pooled connection never carries a tenant into its next use.
    """
    await connection.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, str(tenant_id))
