"""The canary: an email through SES every interval, timed through every stage of the path.

``sender`` makes the ``SendEmail`` calls; the bookkeeping (sent, returned,
missing, which stage is slow) is pure, in sesd.core.canary, and the
``sesd_canary_*`` families are in sesd.metrics.canary.
"""
