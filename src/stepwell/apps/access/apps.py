from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "stepwell.apps.access"
    label = "access"
