"""The interim in-process paper venue (replaced by rust_exec's paper venue)."""
