"""No two active one-to-one appointments of a provider may hold overlapping time (buffers included).

PostgreSQL only (btree_gist exclusion constraint); SQLite, which `make run` uses, has no equivalent, and
there the provider row lock in scheduling.services is the guard.
"""

from django.db import migrations

CONSTRAINT = "visit_no_double_booking"

CREATE = f"""
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE visits_visit ADD CONSTRAINT {CONSTRAINT}
    EXCLUDE USING gist (provider_id WITH =, tstzrange(busy_start, busy_end, '[)') WITH &&)
    WHERE (type = 2 AND status IN (10, 20) AND visit_group_id IS NULL
           AND provider_id IS NOT NULL AND busy_start IS NOT NULL AND busy_end IS NOT NULL);
"""
DROP = f"ALTER TABLE visits_visit DROP CONSTRAINT IF EXISTS {CONSTRAINT};"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0001_initial"),
        ("visits", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
