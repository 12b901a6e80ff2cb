from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "stepwell.apps.network"
    label = "network"
