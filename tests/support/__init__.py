"""Test support: where the real services are, and isolated databases and topics for each test."""
