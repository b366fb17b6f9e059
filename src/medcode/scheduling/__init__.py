"""Periodic background work: which django-tasks tasks run on a schedule, and when they last ran.

The django-tasks database backend runs tasks but has no calendar; `medcode worker` runs the
scheduler here beside the task worker, and several workers may run at once safely (a run is
claimed with one conditional UPDATE, so exactly one worker enqueues it).
"""
