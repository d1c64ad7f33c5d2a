"""sesd: watch Amazon SES delivery in real time.

The modules follow the data, top to bottom:

* ``decode``    SQS message body -> typed SES event (or skipped / invalid)
* ``dedup``     at-least-once delivery -> each event once
* ``domains``   recipient address -> normalised domain -> bounded label
* ``windows``   per-domain sliding windows in event time (``sketch``, ``pending``)
* ``pipeline``  the pure stages above wired together, with ``tallies``
* ``metrics``   live state -> Prometheus metric families at scrape time
* ``sqs``       long-polling consumers that feed the pipeline
* ``http``      /metrics, /healthz, /readyz
* ``daemon``    the lifecycle that owns every task
* ``cli``       ``sesd run | check-config | replay | demo``
"""

__version__ = "0.1.0"
