"""Alembic environment: kpibot's models are the target; the connection comes from `storage.schema`.

`kpibot db upgrade` (and `serve`/`import` on an empty database) hands Alembic an open connection in
`config.attributes["connection"]`. Run as plain `alembic` (for `alembic revision --autogenerate`,
see `alembic.ini`), it connects to the configured DATABASE_URL instead.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import db  # noqa: F401  (registers every table on the metadata)
from storage.schema import include_object

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from storage.db import make_engine
    from storage.settings import Settings

    engine = make_engine(Settings().database_url, create=False)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()
