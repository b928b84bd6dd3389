"""HTTP clients of the systems meshgate talks to: the only package that imports ``httpx``."""
