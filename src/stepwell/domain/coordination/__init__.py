"""Care coordination and access as plain data and pure functions (PRODUCT.md §3.5).

- ``rules``: ``content/coordination/access.yaml`` — local time zones and quiet hours, travel
  limits, reminder lead times, referral acceptance deadlines, inbound SMS keywords, and the
  appointment vocabulary (modalities, attendance, cancellation reasons);
- ``reminders``: the SMS/e-mail templates (``content/coordination/messages.yaml``), when
  reminders and check-in prompts are sent, and moving them out of quiet hours;
- ``inbound``: what an SMS reply asks for (stop, start, a short questionnaire answer);
- ``travel``: estimated travel from a patient's home to sites, and when to suggest
  alternatives to travelling;
- ``referrals``: referral statuses, acceptance deadlines and waiting days;
- ``appointments``: attendance codes and what they mean for the contact record;
- ``goal_chart``: the geometry of a goal's rating chart.

No Django, no I/O, no clock: the caller parses the YAML and passes ``now``. Every datetime
taken or returned is timezone-aware.
"""
