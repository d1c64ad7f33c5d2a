"""``sesd replay``: the command, the archives it reads (files, S3), the engine that runs
the pipeline and the rules in event time, and the reports."""
