"""Config sync: fetch the config repo, validate it, and swap the live config atomically."""
