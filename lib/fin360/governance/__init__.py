"""Governance: audit log of job runs, lineage, consent per purpose and the right to be
forgotten (PII tokens are in :mod:`fin360.governance.pii`)."""
