"""The dashboard: server-rendered pages over the same storage as the JSON API."""
