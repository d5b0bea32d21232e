"""Round 12 of the held-out mutants (labs 01 to 03), written after round 11's gaps were closed."""

from tests.rounds.round12 import lab01, lab02, lab03

__all__ = ["lab01", "lab02", "lab03"]
