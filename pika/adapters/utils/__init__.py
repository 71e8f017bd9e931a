"""Shared adapter parts: the I/O services interface and its fd-based implementation."""
