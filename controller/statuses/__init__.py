"""Commit statuses and pull-request comments in Gitea.

``run_statuses`` (what a run shows) and ``config_statuses`` (what a config revision shows)
decide the desired state; the outboxes in ``controller.storage`` keep it; the ``poster``
posts it (with ``comment_writer`` for comments, ``retry_policy`` for both, ``access`` for the
Gitea integration of the live config); the ``watchdog`` makes sure no status stays pending
forever.
"""
