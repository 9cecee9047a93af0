"""Ceilings: what plain asyncpg and plain aiokafka do on this machine, to hold the project's figures up to."""
