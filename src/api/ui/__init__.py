"""The run explorer at /ui: server-rendered pages over the same queries as the JSON API."""
