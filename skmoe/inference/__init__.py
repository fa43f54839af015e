"""Inference on a fitted mixture of experts: how sure its numbers are."""
