from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "stepwell.apps.patients"
    label = "patients"
