from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "stepwell.apps.outbox"
    label = "outbox"
