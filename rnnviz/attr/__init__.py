"""Explanation methods, their shared scoring loops, and their scores against truth."""
