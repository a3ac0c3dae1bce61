"""The master data of one chunk that the source writers share."""

from __future__ import annotations

from dataclasses import dataclass

from fin360.sources.generator.banking import _Accounts, _Loans
from fin360.sources.generator.common import _ChunkSpec, _RunConfig
from fin360.sources.generator.people import _Devices, _People, _Records, _Rings
from fin360.sources.generator.writers import _ChunkOutput


@dataclass(frozen=True)
class _Chunk:
    """What the source writers of one chunk share: its plan, output and master data."""

    cfg: _RunConfig
    spec: _ChunkSpec
    out: _ChunkOutput
    people: _People
    records: _Records
    rings: _Rings
    devices: _Devices
    loans: _Loans
    accounts: _Accounts
