"""Reviews used to write recommendations and flags with ids counted past ``max(id)``
(bypassing PostgreSQL's sequences); they now leave the numbering to the database. Move the
sequences past the ids already stored, so the next insert cannot collide with them."""

from django.core.management.color import no_style
from django.db import migrations


def sequences_past_stored_ids(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    models = [apps.get_model("stepping", name) for name in ("Recommendation", "EpisodeFlag")]
    for sql in connection.ops.sequence_reset_sql(no_style(), models):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("stepping", "0003_case_conferences")]

    operations = [migrations.RunPython(sequences_past_stored_ids, migrations.RunPython.noop)]
