"""A faithful, offline Constant Contact account served over real HTTP (`cc-sandbox serve`)."""
