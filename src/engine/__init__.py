"""The pure engine core: journey model and validation, conditions, run state, and the decider."""
