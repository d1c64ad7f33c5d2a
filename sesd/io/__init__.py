"""What every part that does I/O shares: structured logs, atomic files, retry backoff,
AWS errors' codes, the build's commit."""
