"""Who may flag how often, and which flags a reviewer sees first."""

from __future__ import annotations

import numpy as np
import pytest

from digit_core.errors import RateLimitedError
from digit_core.flags import FlagGate, client_key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fifty_flags_in_ten_seconds_the_burst_passes_the_rest_are_told_to_slow_down():
    clock = Clock()
    gate = FlagGate(burst=10, per_minute=6, clock=clock)
    admitted, refused = 0, []
    for _ in range(50):
        try:
            gate.admit("someone")
            admitted += 1
        except RateLimitedError as exc:
            refused.append(str(exc))
        clock.now += 0.2
    assert admitted == 10  # the burst; in 10 s at 6 a minute not one whole flag more is earned
    assert len(refused) == 40 and refused[0].startswith("slow down:") and "Try again in" in refused[0]
    gate.admit("someone else")  # one client's limit is not another's
    clock.now += 60
    for _ in range(6):
        gate.admit("someone")  # a minute later, six more


def test_the_gate_forgets_the_least_recent_clients_beyond_its_bound():
    gate = FlagGate(burst=1, max_clients=100, clock=Clock())
    for i in range(1000):
        gate.admit(f"client-{i}")
    assert len(gate._buckets) == 100


def test_a_correction_the_model_was_very_sure_against_is_marked_for_review(mnist_test):
    gate = FlagGate()
    sure_seven = np.eye(10)[7] * 0.995 + 0.0005
    (reason,) = gate.suspicion("a", label=1, frame=mnist_test.images[0], probabilities=sure_seven)
    assert "100% sure it is a 7" in reason or "99% sure it is a 7" in reason
    assert gate.suspicion("b", label=1, frame=mnist_test.images[0], probabilities=np.full(10, 0.1)) == []


def test_many_near_identical_flags_from_one_client_are_marked_for_review(mnist_test):
    gate = FlagGate()
    seven = mnist_test.images[0]
    nudged = [np.clip(seven + 0.02 * np.random.default_rng(i).standard_normal(seven.shape), 0, 1) for i in range(4)]
    reasons = [gate.suspicion("a", label=1, frame=frame) for frame in nudged]
    assert reasons[0] == [] and reasons[1] == []
    assert "near-identical flags labelled 1" in reasons[2][0] and "3 near-identical" in reasons[3][0]
    # Different drawings, or the same drawing from someone else, raise nothing.
    assert gate.suspicion("a", label=1, frame=mnist_test.images[2]) == []
    assert gate.suspicion("b", label=1, frame=seven) == []


@pytest.mark.parametrize("address, username", [("203.0.113.9", None), (None, "someone")])
def test_client_keys_are_stable_and_never_the_address(address, username):
    key = client_key(address, username=username)
    assert key == client_key(address, username=username) and len(key) == 16
    assert all(part not in key for part in (address, username) if part)
    assert key != client_key("198.51.100.1")
