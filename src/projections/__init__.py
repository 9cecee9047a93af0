"""Read models built from run events: each module one projection, rebuildable by replay."""
