from django.apps import AppConfig


class RegionConfig(AppConfig):
    name = "stepwell.apps.region"
    label = "region"
