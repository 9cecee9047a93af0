"""The HTTP edge: FastAPI routes turning requests into commands and queries, and errors into responses."""
