"""Grafana dashboards as code: built by dashboards/boards/ into the checked-in
dashboards/*.json (``jagajalan dashboards generate``), provisioned from
dashboards/provisioning/ or pushed to a running Grafana (``jagajalan dashboards push``)."""
