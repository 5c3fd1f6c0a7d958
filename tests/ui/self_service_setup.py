"""The person's page configured on a deployment: ``[self_service]`` with its secret in the
environment, and one case to open it on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from dispatcher.links import LinkSigner
from dispatcher.model import Wishes
from dispatcher.store.api import CaseIn, PersonIn
from dispatcher.store.wishes import current_wishes
from tests.conftest import Deployment

SECRET_ENV = "SELF_SERVICE_TEST_SECRET"
SECRET = "self-service-test-" + "9" * 24
PAYMENT_URL = "https://lender.example.com/pay"


def configure(dep: Deployment, base_url: str, max_requests: int = 30) -> LinkSigner:
    """Add ``[self_service]`` to ``dep``; the signer its links are made with."""
    path = dep.config / "dispatcher.toml"
    path.write_text(
        path.read_text()
        + f'\n[self_service]\nbase_url = "{base_url}"\nsecret = "${{{SECRET_ENV}}}"\n'
        + f'payment_url = "{PAYMENT_URL}"\nmax_requests = {max_requests}\nper = "10m"\n'
    )
    return LinkSigner(SECRET.encode(), base_url, 30)


def add_case(dep: Deployment, case_id: str = "C1", locale: str = "en") -> None:
    """A person (a name and a phone the page must never show) with a case of 300.00 CNY."""
    store = dep.store()
    try:
        store.upsert(
            [PersonIn("P1", "Li Wei", locale, "Asia/Shanghai", ("+8613800138000",), (), ())],
            [CaseIn(case_id, "P1", "300.00", "CNY", date(2026, 1, 1), "standard")],
            datetime.now(UTC),
        )
    finally:
        store.close()


def store_read(dep: Deployment, fn: str, *args: Any) -> Any:
    """``fn`` of ``dep``'s store (a store of its own, closed after)."""
    store = dep.store()
    try:
        return getattr(store, fn)(*args)
    finally:
        store.close()


def wishes_in_force(dep: Deployment, person_id: str = "P1") -> Wishes:
    """The person's wishes as the store's ``current_wishes`` reads them."""
    store = dep.store()
    try:
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            return current_wishes(conn, person_id)
    finally:
        store.close()
