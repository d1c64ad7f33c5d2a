"""Alerting: rules over the windows (pure), and the sinks that carry notifications out."""
