"""The invoice counter under many concurrent claimants: the one conflict policy is enough for its busiest document."""

import threading

from bookkeeper.documents import numbering


def test_sixteen_concurrent_claims_take_sixteen_consecutive_numbers(new_db):
    db = new_db()
    start = threading.Barrier(16)
    taken, errors = {}, []

    def claim(claimant):
        start.wait()
        try:
            taken[claimant] = numbering.claim(db, 2026, claimant)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(f"acct/{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(taken.values()) == list(range(1, 17))
    assert db.get(numbering.counter_id(2026))["pending"] == taken
