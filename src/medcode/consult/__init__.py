"""Email consult: a coding question mailed in, the assistant's cited answer mailed back in the same thread.

Pure parts (no Django): mailparse (MIME -> the new question), phi (redaction), authres
(Authentication-Results), addresses (which recipients are ours). The Django app: models,
actions (every state change), tasks (django-tasks), gateway (`medcode smtpd`), imap (polling),
views (My consults, review queue, delivery log) and admin.
"""
