"""Red team, round 2: the signed-request nonce cache rebuilds itself on every request once it
holds 100,000 live nonces.

``NonceCache.fresh`` prunes when it holds more than 100,000 nonces by rebuilding the dict of
those not yet expired; nonces live 120 s, so when more than 100,000 are live the rebuild
keeps them all and runs again on the next call, and the next: every signed request then costs
a pass over the whole cache (16 ms measured, against microseconds). A hostile resident with
an enrolled key reaches that with ~850 signed GETs a second for two minutes (the per-address
read limit allows 1,000 a second; the per-key limit is applied after ``verify_request`` has
spent the nonce, so its 429s still fill the cache). From then on some 60 signed requests a
second, anyone's, take the node's whole event loop, consensus included. Broken: bounded CPU
at honest nodes (a request's cost must not grow with what others sent)."""

import time

from signing.http_signatures import NonceCache


def test_a_full_nonce_cache_costs_no_more_per_request() -> None:
    cache, now = NonceCache(), 1_000.0
    for i in range(100_001):  # signed requests within the last two minutes
        assert cache.fresh(f"attacker-{i:08d}", now)
    calls = 100
    start = time.perf_counter()
    for i in range(calls):
        assert cache.fresh(f"honest-{i:08d}", now + 1)
    each = (time.perf_counter() - start) / calls
    assert each < 0.002, f"{each * 1e3:.1f} ms per signed request's nonce check"
