"""Reports on a run: cost plots (matplotlib, optional) and data inspection."""
