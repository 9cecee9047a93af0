"""Local Postgres and Kafka for development, tests and benchmarks, started as plain processes (no Docker)."""
