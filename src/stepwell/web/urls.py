from django.urls import path

from stepwell.web import (
    appointments,
    coordination,
    journey,
    measurement,
    peers,
    safety,
    safety_plan,
    stepping,
    views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient-detail"),
    path(
        "patients/<int:patient_id>/assessments/new/<str:code>/",
        measurement.assessment_new,
        name="assessment-new",
    ),
    path(
        "patients/<int:patient_id>/progress/<str:code>/",
        measurement.progress_chart_page,
        name="progress-chart",
    ),
    path("registry/", stepping.registry, name="registry"),
    path("barriers/", coordination.barrier_list, name="barriers"),
    path("barriers/<int:barrier_id>/", coordination.barrier_page, name="barrier-detail"),
    path("referrals/", journey.referral_list, name="referrals"),
    path("referrals/<int:referral_id>/", journey.referral_act, name="referral-update"),
    path(
        "patients/<int:patient_id>/referrals/new/",
        journey.referral_new,
        name="referral-new",
    ),
    path("patients/<int:patient_id>/goals/", journey.goal_new, name="goal-create"),
    path("goals/<int:goal_id>/ratings/", journey.goal_rating_new, name="goal-rate"),
    path("episodes/<int:episode_id>/journey/", journey.journey_page, name="journey"),
    path(
        "patients/<int:patient_id>/appointments/new/",
        appointments.appointment_new,
        name="appointment-new",
    ),
    path(
        "appointments/<int:appointment_id>/attendance/",
        appointments.attendance_page,
        name="appointment-attendance",
    ),
    path("episodes/<int:episode_id>/review/", stepping.episode_review, name="episode-review"),
    path(
        "episodes/<int:episode_id>/step-decisions/",
        stepping.step_decision,
        name="step-decision",
    ),
    path("conferences/", stepping.conference_list, name="conferences"),
    path(
        "conferences/<int:conference_id>/",
        stepping.conference_detail,
        name="conference-detail",
    ),
    path(
        "conferences/<int:conference_id>/attendance/",
        stepping.conference_attendance,
        name="conference-attendance",
    ),
    path(
        "conferences/<int:conference_id>/items/<int:item_id>/",
        stepping.conference_item,
        name="conference-item",
    ),
    path("peer/", peers.peer_home, name="peer-home"),
    path(
        "peer/patients/<int:patient_id>/encounter/",
        peers.encounter_new,
        name="peer-encounter",
    ),
    path("peers/supervision/", peers.supervision, name="peer-supervision"),
    path("peers/supervision/runs/", peers.run_create, name="peer-run-create"),
    path(
        "peers/supervision/runs/<int:run_id>/approve/",
        peers.run_approve,
        name="peer-run-approve",
    ),
    path(
        "peers/supervision/sessions/",
        peers.supervision_record,
        name="peer-supervision-record",
    ),
    path("break-glass/", views.break_glass, name="break-glass"),
    path("safety/tasks/", safety.task_list, name="safety-tasks"),
    path("safety/tasks/<int:task_id>/", safety.task_detail, name="safety-task"),
    path("safety/undelivered/", safety.undelivered, name="safety-undelivered"),
    path("patients/<int:patient_id>/concerns/", safety.concern_create, name="concern-create"),
    path(
        "patients/<int:patient_id>/safety-plan/",
        safety_plan.safety_plan_page,
        name="safety-plan",
    ),
    path(
        "patients/<int:patient_id>/safety-plan/print/",
        safety_plan.safety_plan_print,
        name="safety-plan-print",
    ),
]
