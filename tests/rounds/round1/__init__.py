"""Round 1 of the held-out mutants (labs 01 to 03)."""

from tests.rounds.round1 import lab01, lab02, lab03

__all__ = ["lab01", "lab02", "lab03"]
