"""Trust: is the From address the real sender, is the mail spam, who may write into a ticket.

``authres`` reads Authentication-Results (RFC 8601), ``spam`` the spam filters'
headers, ``sender`` turns both into one verdict about a message's sender, and
``join`` decides whether that sender may write into the ticket the mail threads
into. All pure: the pipeline hands them the parsed mail and the settings.
"""
