"""The fault suite: real roles under a steady load, one fault at a time, invariants checked after each."""
