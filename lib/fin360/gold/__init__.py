"""Gold: customer-360 features as of a date, training sets (graph features need GraphFrames)."""
