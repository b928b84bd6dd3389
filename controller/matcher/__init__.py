"""Trigger matching: which rules an event starts, with the reason for every rule considered."""
