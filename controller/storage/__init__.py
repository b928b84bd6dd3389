"""Durable state: the only package of meshgate that imports ``sqlalchemy`` and ``alembic``.

``Storage`` is the whole public surface; see ``controller.storage.store``. Layout: ``tables``
(the one ``MetaData``), ``types`` (column types), ``engine`` (SQLite/PostgreSQL engine setup),
``database`` (transactions), ``translation`` (error mapping), ``schema`` (migrations, and how
to write one), and one query module per aggregate (``config_revisions``, ``deliveries``).
"""

from controller.storage.store import Storage

__all__ = ["Storage"]
