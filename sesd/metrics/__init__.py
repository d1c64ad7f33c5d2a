"""Prometheus metric families built from live state at scrape time, and the text writer."""
