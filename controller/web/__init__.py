"""HTTP interface: routes are built from collaborators passed in by the composition root."""
