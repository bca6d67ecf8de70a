"""What customers tell us back: "solved" (self-service) and satisfaction scores."""
