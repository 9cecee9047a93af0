"""Run events: the catalogue, their upcasters and codec, and (elsewhere in this package) the event store."""
