"""The telemetry part of the settings: tracing (OpenTelemetry's own variables) and the roles' own /metrics."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from pjs.setting_bounds import Port


class TelemetrySettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields."""

    # ---- tracing (events/tracing.py, pjs/tracing.py; docs/architecture.md "Tracing") ----
    # OpenTelemetry's own variable names, not PJS_*: what every OTel-aware deployment already sets.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector base URL (spans go to <url>/v1/traces); unset = tracing off.",
    )
    otel_service_name: str | None = Field(
        default=None,
        validation_alias="OTEL_SERVICE_NAME",
        description="service.name of every span; unset = pjs-<role> (pjs-api, pjs-engine, ...).",
    )

    # ---- operator metrics (pjs/role_metrics.py; docs/operations.md "Metrics and dashboard") ----
    role_metrics_port: Port | None = Field(
        default=None,
        description="Port on 127.0.0.1 where a role other than the API serves its own /metrics (each role "
        "on a host its own port); unset = none. Ignored under `pjs dev`, where the API's /metrics has all.",
    )
