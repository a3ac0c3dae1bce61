"""The planted truth: table schemas and the truth tables of one chunk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fin360.sources.catalog import SEGMENTS
from fin360.sources.generator.banking import _loan_ids
from fin360.sources.generator.chunk import _Chunk
from fin360.sources.generator.people import _People, _Rings
from fin360.sources.generator.writers import _iso_days

_TRUTH_SCHEMAS = {
    "persons": pa.schema(
        [
            ("person_id", pa.string()),
            ("segment", pa.string()),
            ("gender", pa.string()),
            ("birth_date", pa.string()),
            ("default_propensity", pa.float64()),
            ("fraud_ring_id", pa.string()),
        ]
    ),
    "customer_identity": pa.schema([("customer_src_id", pa.string()), ("person_id", pa.string())]),
    "bureau_identity": pa.schema([("bureau_record_id", pa.string()), ("person_id", pa.string())]),
    "fraud_rings": pa.schema(
        [("ring_id", pa.string()), ("person_id", pa.string()), ("role", pa.string())]
    ),
    "anomalies": pa.schema([("txn_id", pa.string()), ("anomaly_type", pa.string())]),
    "loan_labels": pa.schema([("loan_id", pa.string()), ("defaulted_90dpd_12m", pa.bool_())]),
}


def _persons_truth(people: _People, rings: _Rings | None) -> pa.Table:
    """Latent truth of persons."""
    ring_ids = (
        [rings.ring_ids[r] if r >= 0 else None for r in rings.ring_of.tolist()]
        if rings
        else [None] * len(people)
    )
    return pa.table(
        {
            "person_id": people.person_id,
            "segment": [SEGMENTS[s].name for s in people.segment.tolist()],
            "gender": np.where(people.male, "M", "F").tolist(),
            "birth_date": _iso_days(people.birth).tolist(),
            "default_propensity": people.propensity,
            "fraud_ring_id": ring_ids,
        },
        schema=_TRUTH_SCHEMAS["persons"],
    )


def _chunk_truth(
    chunk: _Chunk, newcomers: _People, anomalies: list[pa.Table], bureau_identity: pa.Table
) -> dict[str, pa.Table]:
    """The truth tables of one chunk, keyed like `_TRUTH_SCHEMAS`."""
    spec, people, records, rings, loans = (
        chunk.spec,
        chunk.people,
        chunk.records,
        chunk.rings,
        chunk.loans,
    )
    identity_ids = records.primary + records.fuzzy_id + records.new_id
    identity_persons = (
        people.person_id
        + [people.person_id[i] for i in records.fuzzy_person.tolist()]
        + newcomers.person_id
    )
    return {
        "persons": pa.concat_tables(
            [_persons_truth(people, rings), _persons_truth(newcomers, None)]
        ),
        "customer_identity": pa.table(
            {"customer_src_id": identity_ids, "person_id": identity_persons},
            schema=_TRUTH_SCHEMAS["customer_identity"],
        ),
        "bureau_identity": bureau_identity,
        "fraud_rings": pa.table(
            {
                "ring_id": [rings.ring_ids[r] for r, m in enumerate(rings.members) for _ in m],
                "person_id": [people.person_id[p] for m in rings.members for p in m.tolist()],
                "role": [
                    "organiser" if k == 0 else "mule" for m in rings.members for k in range(len(m))
                ],
            },
            schema=_TRUTH_SCHEMAS["fraud_rings"],
        ),
        "anomalies": pa.concat_tables(anomalies),
        "loan_labels": pa.table(
            {"loan_id": _loan_ids(spec, loans), "defaulted_90dpd_12m": loans.defaulted},
            schema=_TRUTH_SCHEMAS["loan_labels"],
        ),
    }
