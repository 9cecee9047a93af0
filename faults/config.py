"""How big a fault run is and where it lives: its own state dir and ports, well away from the shared stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
STATE_DIR = REPO / ".pjs-faults"
RESULTS = Path(__file__).resolve().parent / "results.json"

# Below Linux's ephemeral range (32768-60999): a retrying client is never handed one of these as its own
# source port, so a killed service can always bind its port again.
POSTGRES_PORT = 26432
KAFKA_PORT = 26092
KAFKA_CONTROLLER_PORT = 26093
API_PORT = 26080
PROVIDER_PORT = 26081
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Sizes:
    """The load and time limits of one fault; every wait is bounded by one of these."""

    runs: int  # runs triggered per fault (the load keeps going after the fault until this many)
    rate: float  # triggers per second
    cancel_every: int  # every n-th acknowledged run is cancelled mid-delay
    delay_seconds: float  # the reference journey's DELAY
    recovery_seconds: float  # a backlog not drained within this after the fault ends is a violation
    partitions: int


QUICK = Sizes(runs=40, rate=4.0, cancel_every=5, delay_seconds=3.0, recovery_seconds=90, partitions=6)
FULL = Sizes(runs=150, rate=4.0, cancel_every=5, delay_seconds=3.0, recovery_seconds=180, partitions=6)

DELIVERY_LEASE_SECONDS = 5.0
PROVIDER_HANG_SECONDS = 8.0  # past the lease, within the webhook timeout below
WEBHOOK_TIMEOUT_SECONDS = 15.0


def role_settings(box: Sandbox, topic: str, scenario: str, provider_url: str) -> dict[str, str]:
    """The PJS_* variables of every role of one scenario: the sandbox's (as pjs_app) and the fault's."""
    return {
        **box.role_environment(topic),
        # The suite's one client is the whole load: the per-key rate limit must never be what it measures.
        "PJS_RATE_LIMIT_PER_SECOND": "1000000",
        "PJS_RATE_LIMIT_BURST": "1000000",
        "PJS_STATE_DIR": str(STATE_DIR),
        **{f"PJS_{role.upper()}_GROUP": box.group(role) for role in _CONSUMER_ROLES},
        "PJS_ANALYTICS_DIR": str(STATE_DIR / "analytics" / scenario),
        "PJS_HTTP_HOST": HOST,
        "PJS_HTTP_PORT": str(API_PORT),
        "PJS_MESSAGE_CHANNEL": "webhook",
        "PJS_WEBHOOK_URL": provider_url,
        "PJS_WEBHOOK_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT_SECONDS),
        "PJS_DELIVERY_LEASE_SECONDS": str(DELIVERY_LEASE_SECONDS),
    }


_CONSUMER_ROLES = ("engine", "projector", "delivery", "audit", "analytics")
