from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "stepwell.apps.sync"
    label = "sync"
