"""Connection adapters: each joins the protocol engine to one event loop or I/O model."""
