"""Synthetic multi-source bank data: a seeded, chunked generator of raw files and planted truth.

`fin360.sources.generator.generate` writes the raw deliveries of ten source systems (CRM,
core banking, cards, payments, app, complaints, credit bureau, loans, FX, products) in their
native, deliberately dirty formats, plus the ground truth needed to evaluate entity
resolution, fraud-ring, anomaly and default models. ``layout="harbour"`` exports the same
bank the way another core system would (other files, dialect, codes; the same ids and truth).
"""
