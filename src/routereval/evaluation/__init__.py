"""Evaluation: run routers on pool datasets and measure them."""
