"""Running suites: preparing a run (routing, secrets, roots) and, for the CLI, a local run."""
