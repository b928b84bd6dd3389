"""meshgate: a GitOps-native test controller (import package ``controller``)."""

__version__ = "0.1.0"
