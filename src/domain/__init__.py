"""The domain core: journeys, conditions, run state and the decider. No I/O, no clock, no ids."""
