"""Experiments (A/B tests): stable assignment of users to variants, and their statistics."""
