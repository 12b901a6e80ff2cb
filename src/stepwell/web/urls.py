from django.urls import path

from stepwell.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient-detail"),
    path("break-glass/", views.break_glass, name="break-glass"),
]
