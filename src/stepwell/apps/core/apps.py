from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "stepwell.apps.core"
    label = "core"
