"""The workers around the domain core (engine consumer, delivery, timer), the write-side tables they
decide from and own (run status, delays, message deliveries), the run commands, and the channel adapters."""
