from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "stepwell.apps.audit"
    label = "audit"
