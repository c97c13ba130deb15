"""Load and soak runs against the real processes: `python -m reliability load|soak`."""
