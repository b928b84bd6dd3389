"""Durable state: the only package of meshgate that imports ``sqlalchemy`` and ``alembic``.

``Storage`` is the whole public surface; see ``controller.storage.store``. Layout: ``tables``
(the one ``MetaData``), ``types`` (column types), ``engine`` (SQLite/PostgreSQL engine setup),
``database`` (transactions), ``translation`` (error mapping), ``schema`` (migrations, and how
to write one), ``checkpoints`` (SQLite WAL checkpoints beside the writers), ``bulk``
(driver-level multi-row inserts), ``rows`` (rows back into values), and one query module per
aggregate: ``config_revisions``, ``deliveries`` (with ``delivery_batches``, the group-commit
writer, and ``redeploys``), ``runs`` (with ``run_claims``), ``statuses`` (the status outbox,
with ``status_posts``, the poster's side) and ``comments`` (the comment outbox), both built
on ``outbox`` (claims under a lease, failed attempts).
"""

from controller.storage.store import Storage

__all__ = ["Storage"]
