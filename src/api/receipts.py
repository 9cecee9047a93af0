"""Provider receipts: `POST /deliveries/{deliveryId}/receipts`, signed by the providers (no API key)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import NotFound, Unauthorized, invalid
from api.examples import EXAMPLE_ID, RECEIPT_EXAMPLES
from api.inputs import existing_id
from api.openapi import error_responses, json_request
from api.resources import Resources, get_resources
from domain.message_decisions import Receipt
from domain.validation import Problem
from engine.receipts import DeliveryNotFound, record_receipt
from engine.signatures import SIGNATURE_HEADER, signature_valid

router = APIRouter(tags=["deliveries"])

Deps = Annotated[Resources, Depends(get_resources)]


class ReceiptIn(BaseModel):
    """A provider's report on one delivery; `reason` is a provider code, never patient data."""

    model_config = ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=False)

    status: Literal["delivered", "bounced"]
    provider_message_id: str | None = Field(default=None, max_length=255, alias="providerMessageId")
    reason: str | None = Field(default=None, max_length=255)


class ReceiptOut(BaseModel):
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    delivery_id: UUID = Field(alias="deliveryId")
    recorded: bool = Field(description="False when an earlier receipt of this delivery was kept.")


@router.post(
    "/deliveries/{deliveryId}/receipts",
    summary="Record a provider's delivery receipt (body signed: X-Pjs-Signature: sha256=HMAC of the body)",
    openapi_extra=json_request(ReceiptIn, RECEIPT_EXAMPLES),
    responses=error_responses(400, 401, 404),
)
async def receive(
    delivery_id: Annotated[str, Path(alias="deliveryId", examples=[EXAMPLE_ID])],
    request: Request,
    resources: Deps,
    signature: Annotated[
        str | None,
        Header(alias=SIGNATURE_HEADER, description="sha256= and the hex HMAC-SHA256 of the raw body."),
    ] = None,
) -> ReceiptOut:
    body = await request.body()
    secret = resources.receipt_secret
    if secret is None or not signature_valid(secret, body, signature):
        raise Unauthorized("The receipt is not signed with the providers' secret.")
    known_id = existing_id(delivery_id, "Delivery")
    try:
        parsed = ReceiptIn.model_validate_json(body)
    except ValidationError as error:
        problems = [Problem(".".join(map(str, e["loc"])), e["msg"]) for e in error.errors()]
        raise invalid("receipt", problems) from None
    receipt = Receipt(parsed.status, parsed.provider_message_id, parsed.reason)
    tenant_id = await resources.pool.fetchval("SELECT delivery_tenant($1)", known_id)
    if tenant_id is None:
        raise NotFound(f"Delivery {known_id} does not exist.")
    async with resources.for_tenant_id(tenant_id) as tenant:
        result = await record_receipt(
            tenant.db,
            tenant.store,
            tenant.heads,
            delivery_id=known_id,
            receipt=receipt,
            now=resources.clock(),
        )
    if isinstance(result, DeliveryNotFound):
        raise NotFound(f"Delivery {known_id} does not exist.")
    return ReceiptOut(delivery_id=result.delivery_id, recorded=result.recorded)
