"""Grafana dashboards as code: a later issue."""
