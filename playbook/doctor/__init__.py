"""08, troubleshooting: the doctor (a verdict, its evidence and the fix), its rules, the walk-through that
breaks endpoints on purpose, and the HTML report."""
