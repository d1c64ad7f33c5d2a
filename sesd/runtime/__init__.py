"""The I/O runtime: the daemon's lifecycle and everything it talks to (SQS, AWS, HTTP,
systemd, signals, the clock, the state file)."""
