"""Account health: SES's own view of each (account, region) polled (GetAccount,
CloudWatch reputation metrics), and sesd's live estimate of the same arithmetic."""
