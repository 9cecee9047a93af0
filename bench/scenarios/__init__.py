"""One module per scenario; each exposes SCENARIO and is listed once in bench.registry."""
