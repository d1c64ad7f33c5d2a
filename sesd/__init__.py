"""sesd: watch Amazon SES delivery in real time.

SQS body -> event -> per-recipient facts -> windows -> metrics and rules ->
notifications. The subpackages, in layers that import downwards only:

* ``core``       the pure core: decoding, dedup, domains, providers, causes,
                 tenants, windows, the ledger of every store, and the pipeline
                 that writes it
* ``config``     the config file, validated before its secrets are read
* ``alerting``   rules, the evaluator, alert text, silences, sinks and outboxes
* ``account``    SES's own view of each account, region and tenant, polled
* ``canary``     an email through SES every interval, timed stage by stage
* ``providers``  the DNS lookups that name each domain's mailbox provider
* ``metrics``    Prometheus families built from live state at scrape time
* ``status``     the status page and its JSON API, read from the same state
* ``runtime``    the daemon's lifecycle and everything it talks to
* ``commands``   the command line, one module per command
* ``io``         what every part doing I/O shares: logs, files, backoff, AWS
                 error codes, the build's revision
"""

__version__ = "0.1.0"
