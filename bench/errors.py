"""The one exception a scenario raises on purpose."""


class BenchFailure(Exception):
    """A scenario could not produce trustworthy figures (timed out, lost records, ...)."""
