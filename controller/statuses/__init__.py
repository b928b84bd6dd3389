"""Commit statuses in Gitea: what each run and config revision should show, and posting it."""
