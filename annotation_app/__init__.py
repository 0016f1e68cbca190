"""PixMo annotation app: campaigns, task claiming with leases, review, quality, export.

The core (users, auth, campaigns, items, claiming, review, audit, jobs, quality pages) knows no
task type; task types (pointing, counting, ...) are plugins in ``annotation_app.tasks``.
"""
