"""sourcedb package."""
