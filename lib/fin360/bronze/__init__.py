"""Bronze: land raw source files as-is in Delta, with ingestion metadata and a quarantine."""
