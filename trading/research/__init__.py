"""Research helpers that are pure: parameter grids and walk-forward windows."""
