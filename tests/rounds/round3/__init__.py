"""Round 3 of the held-out mutants (labs 01 to 03), written after round 2's gaps were closed."""
