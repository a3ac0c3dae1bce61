"""Silver: typed, standardised, deduplicated, checked and pseudonymised canonical tables."""
