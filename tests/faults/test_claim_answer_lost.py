"""A claim that commits while its daemon is told it failed: the connection to PostgreSQL is cut
after the claim's COMMIT reached the server and before its answer came back. The rows it
claimed are this node's, renewed with its other claims, and unknown to its loop; the loop gives
them back after the failed call, so every reminder is still sent, once, without a restart."""

from __future__ import annotations

from dispatcher.testing.fault_run import run_fault
from dispatcher.testing.tcp_proxy import TcpProxy
from tests.conftest import Deployment

REMINDERS = 1000


def test_a_claim_whose_answer_is_lost_is_given_back_and_sent(
    open_deployment: Deployment, pg_url: str, proxy: TcpProxy
) -> None:
    dep = open_deployment
    through_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{through_proxy}"')
    # The first claim that reserves attempts (a fresh connection sends the statement's text).
    proxy.lose_answer(b"COMMIT", after=b"INSERT INTO attempts")

    result = run_fault(
        dep.config,
        dep.root,
        dep.outbox,
        pg_url,
        nodes=1,
        reminders=REMINDERS,
        seconds=1,
        begin=lambda: None,
        end=lambda: None,
    )

    logs = "\n".join(log[-3000:] for log in result.logs)
    assert proxy.answers_lost == 1, logs
    assert result.exits == 0, logs
    assert (result.lost, result.duplicates) == (0, 0), logs
    assert any("claims lost with a failed claim call given back" in log for log in result.logs)
