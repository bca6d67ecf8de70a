"""Service levels: the business calendar and, later, the SLA clock."""
