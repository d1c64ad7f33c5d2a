"""The pure core: SQS body -> event -> per-recipient facts -> windows and tallies.

No clock, no I/O, no logging, no awaits: time is a parameter, and reads never
change what the next read returns. Import-linter holds it to that
(``pyproject.toml``).
"""
