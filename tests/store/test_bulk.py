"""Reads and writes over more ids than one statement takes (``bulk``: a statement per 500):
every chunk's rows come back, converted, and every chunk's rows are written — as a claim of a
``batch_size`` above 500 needs (its people, cases and histories read by id)."""

from __future__ import annotations

from datetime import date, timedelta

from dispatcher.store.api import CaseIn, PersonIn
from dispatcher.store.rows import cases_by_id
from tests.store.test_store import NOW, _people, always

COUNT = 1200  # three chunks: 500, 500 and 200


def _cases(store) -> list[str]:  # type: ignore[no-untyped-def]
    ids = [f"C{i}" for i in range(COUNT)]
    store.upsert(
        [PersonIn(id="P1", name="Name", locale="en", timezone="UTC")],
        [
            CaseIn(
                id=cid,
                person_id="P1",
                amount="10.00",
                currency="GBP",
                due_date=date(2026, 11, 1),
                schedule="standard",
            )
            for cid in ids
        ],
        NOW,
    )
    return ids


def test_reads_by_more_ids_than_a_chunk_return_every_row_converted(store) -> None:  # type: ignore[no-untyped-def]
    ids = _cases(store)
    with store.engine.connect() as conn:
        cases = cases_by_id(conn, ids)
    assert sorted(cases) == sorted(ids)
    assert {case.revision for case in cases.values()} == {NOW}  # instants converted back


def test_a_claim_bigger_than_a_chunk_claims_every_person(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, COUNT)
    batch = store.claim_due(NOW, COUNT, always(), timedelta(0), node="n1")
    assert len(batch.claims) == COUNT
    assert len({claim.case.id for claim in batch.claims}) == COUNT
