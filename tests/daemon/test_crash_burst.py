"""SIGKILLs during an email burst: a kill leaves ``unknown`` only the messages handed to the
SMTP server (``benchmarks.kills``, which ``make bench`` runs with more kills)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.kills import POOL, burst


def test_sigkills_during_an_email_burst_leave_unknown_only_what_reached_the_server(
    tmp_path: Path,
) -> None:
    """The example's concurrency (32) and pool (4), an SMTP server answering DATA 100 ms
    late: each kill leaves ``unknown`` only messages handed to the server. A claim is
    confirmed only once it holds a pool connection, so those the server had not accepted when
    the daemon died are at most the pool size (before, every claim waiting for a connection
    was already confirmed: ~30 per kill). Nothing lost, nothing sent twice."""
    figures = burst(tmp_path, kills=8, people=300)

    assert figures.lost == 0 and figures.duplicates == 0, figures
    assert figures.sent + figures.unknown == figures.people, figures.states
    for kill in figures.kills:
        assert kill.unknowns - kill.accepted <= POOL, figures.kills
    unknowns = sum(k.unknowns for k in figures.kills)
    assert unknowns == figures.unknown, "every unknown comes from a kill"
    assert unknowns, "no kill landed during a send; the test proved nothing"
