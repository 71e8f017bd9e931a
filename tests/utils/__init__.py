"""Test utilities: broker discovery, extra nodes, a fault-injecting proxy, a fake server."""
