"""Benchmark harness: scenarios that measure the store and relay against plain Postgres and Kafka ceilings."""
