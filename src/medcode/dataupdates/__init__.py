"""Scheduled checks for new official releases (`medcode data update` run by the task worker), the
staff switch that lets them be applied, and the record of each check that staff read."""
