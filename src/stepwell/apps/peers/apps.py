from django.apps import AppConfig


class PeersConfig(AppConfig):
    name = "stepwell.apps.peers"
    label = "peers"
