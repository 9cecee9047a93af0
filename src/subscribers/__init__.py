"""Subscribers: examples of a clinic's own systems reading the run-event stream (audit, analytics)."""
