"""What the service keeps of a message provider's words: ids and codes, never free text. A provider's answer
or receipt lands in events stored and published in clear, which erasure cannot reach; free text there
(a provider echoing the message as its id, a bounce quoting the address) could carry the patient's data."""

from __future__ import annotations

import re
from typing import Final

PROVIDER_ID: Final = re.compile(r"[A-Za-z0-9._:@/+=<>-]{1,255}")
"""A provider's message id: up to 255 letters, digits and `._:@/+=<>-` (an SMTP Message-ID fits)."""
PROVIDER_CODE: Final = re.compile(r"[A-Za-z0-9._:/-]{1,64}")
"""A provider's reason code (`hard_bounce`, `5.1.1`): up to 64 letters, digits and `._:/-`."""


def provider_id(value: object) -> str | None:
    """`value` as a message id, or None when it is not one (it is then not kept)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if PROVIDER_ID.fullmatch(text) else None
