"""Ticket work: what a stored mail does to its ticket, one module per job.

opening (a new ticket), replies (a customer writes again), selfservice (the
customer solved it, or answers the survey), agent and commands (an agent's
mail), participants (who is on a ticket), holding (mail kept out until
admitted), threading, duplicates and bounces (what a mail is before it changes
anything). pipeline.py calls them in order, inside one transaction; merges,
links and status by mail belong here too.
"""
