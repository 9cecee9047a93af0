"""Composition root of the Patient Journey Scheduler: settings, local services, CLI and process roles."""
