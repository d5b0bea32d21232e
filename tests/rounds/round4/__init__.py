"""Round 4 of the held-out mutants (labs 01 to 03), written after round 3's gaps were closed."""
