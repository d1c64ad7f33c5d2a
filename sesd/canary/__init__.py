"""The canary: an email through SES every interval, timed through every stage of the path.

``tracker`` is the pure bookkeeping (sent, returned, missing, which stage is
slow); ``sender`` makes the ``SendEmail`` calls; ``metrics`` exports the
``sesd_canary_*`` families.
"""
