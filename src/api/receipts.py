"""Provider receipts: `POST /deliveries/{deliveryId}/receipts`, signed by the providers (no API key)."""

from __future__ import annotations

from typing import Annotated, Final, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from api.errors import NotFound, Unauthorized, invalid
from api.examples import RECEIPT_EXAMPLES
from api.inputs import DeliveryIdPath, existing_id
from api.openapi import error_responses, json_request
from api.resources import Resources, get_resources
from domain.message_decisions import Receipt
from domain.validation import Problem
from engine.provider_words import PROVIDER_CODE, PROVIDER_ID
from engine.receipts import DeliveryNotFound, record_receipt
from engine.signatures import SIGNATURE_HEADER, signature_valid

router = APIRouter(tags=["deliveries"])

Deps = Annotated[Resources, Depends(get_resources)]


class ReceiptIn(BaseModel):
    """A provider's report on one delivery; `reason` is a provider code, never patient data."""

    model_config = ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=False)

    status: Literal["delivered", "bounced"]
    provider_message_id: str | None = Field(
        default=None,
        alias="providerMessageId",
        description="The provider's id of the message: up to 255 letters, digits and ._:@/+=<>-.",
        json_schema_extra={"pattern": f"^{PROVIDER_ID.pattern}$"},
    )
    reason: str | None = Field(
        default=None,
        description="A provider code (hard_bounce, 5.1.1): up to 64 letters, digits and ._:/-.",
        json_schema_extra={"pattern": f"^{PROVIDER_CODE.pattern}$"},
    )

    @field_validator("provider_message_id", "reason")
    @classmethod
    def _no_free_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        pattern, what = _PROVIDER_WORDS[info.field_name or ""]
        if value is not None and not pattern.fullmatch(value):
            raise ValueError(
                f"must be {what}, no spaces (free text could carry the patient's data into events kept in "
                "clear)"
            )
        return value


_PROVIDER_WORDS: Final = {
    "provider_message_id": (
        PROVIDER_ID,
        "the provider's message id: up to 255 letters, digits and ._:@/+=<>-",
    ),
    "reason": (PROVIDER_CODE, "a provider code: up to 64 letters, digits and ._:/-"),
}


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
    delivery_id: DeliveryIdPath,
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
    known_id = existing_id(delivery_id, "deliveryId")
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
