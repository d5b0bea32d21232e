"""Round 11 of the held-out mutants (labs 01 to 03), written after round 10's gaps were closed."""

from tests.rounds.round11 import lab01, lab02, lab03

__all__ = ["lab01", "lab02", "lab03"]
