"""Playground: try prompts against a relay — streaming, structured output, compare, repeat, code."""

from .routes import bp

__all__ = ["bp"]
