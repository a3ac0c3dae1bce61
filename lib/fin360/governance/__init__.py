"""Governance: audit log of job runs and lineage (PII tokens, consent and forget come later)."""
