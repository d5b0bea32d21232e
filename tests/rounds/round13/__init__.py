"""Round 13 of the held-out mutants (labs 01 to 03), written after round 12's gaps were closed."""

from tests.rounds.round13 import lab01, lab02, lab03

__all__ = ["lab01", "lab02", "lab03"]
