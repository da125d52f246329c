"""Reporting: JUnit properties, the terminal summary, per-test artifacts and the run report."""
