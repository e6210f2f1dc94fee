"""What every benchmark does first: point Django at its own PostgreSQL database (created if missing,
dropped first with --rebuild, so its data set is built once and reused), then set Django up."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def bench_django(db_name: str, **environ: str) -> None:
    if "django.apps" in sys.modules and sys.modules["django.apps"].apps.ready:
        return  # a bench importing another's data set and helpers: the first database stays
    sys.path.insert(0, str(ROOT))
    server = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    if not server.scheme.startswith("postgres"):
        sys.exit(f"{Path(sys.argv[0]).name} needs PostgreSQL: set DATABASE_URL to a postgres:// URL.")
    os.environ["DATABASE_URL"] = urlunsplit(server._replace(path=f"/{db_name}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ["DJANGO_DEBUG"] = "false"  # no per-query bookkeeping while timing
    os.environ.update(environ)

    import psycopg

    with psycopg.connect(urlunsplit(server._replace(path="/postgres")), autocommit=True) as admin:
        if "--rebuild" in sys.argv:
            admin.execute(f"DROP DATABASE IF EXISTS {db_name}")
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone():
            admin.execute(f"CREATE DATABASE {db_name}")

    import django

    django.setup()
