"""Destinations: where synced rows go. ``base`` is the seam the engine talks to."""
