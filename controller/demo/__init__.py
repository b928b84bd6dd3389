"""``meshgate demo``: the example config against stand-in services, on loopback."""
