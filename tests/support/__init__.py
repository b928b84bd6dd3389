"""Shared test support (import the submodules, e.g. ``tests.support.git_server``)."""
