"""Choosing a model for a new task from benchmark records (Shnitzer et al., SPEC section 6)."""
