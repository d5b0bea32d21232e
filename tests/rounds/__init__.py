"""Held-out rounds: realistic mistakes written by someone who had not read the checks.

Each round's ``roundN/labNN.py`` was written from the stubs, the solutions and the anchors'
known pitfalls alone, and measured against the grader as it then stood (``python3 dev.py
blame --set tests.rounds.roundN``; the figures are in the README). Once measured, a round's
mutants join ``tests/mutants`` and are graded with every test run, so a gap a round found
stays closed.
"""
