"""Routing: YAML rules that choose tier, priority and SLA for new tickets."""
