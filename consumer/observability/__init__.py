"""Observability: Prometheus metrics and the health endpoints of the one HTTP port."""
