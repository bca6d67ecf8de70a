"""Self-service first: knowledge-base articles suggested in the acknowledgement."""
