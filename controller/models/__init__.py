"""Plain values shared by every layer: documents, problems, durations, revisions."""
