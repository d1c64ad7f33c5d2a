"""Account health and tenants: SES's own view of each (account, region) polled
(GetAccount, CloudWatch reputation metrics) and of each tenant (its resources, its
sending status, its findings)."""
