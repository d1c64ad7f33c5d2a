"""What every part that does I/O shares: structured logs, atomic files, retry backoff,
AWS errors' codes, the build's commit, a stop told from a stray cancellation."""
