"""The config loader: a config tree in, schema-valid documents and precise problems out.

This package is the only place in meshgate that imports ``yaml``, ``jsonschema`` and
``referencing``.
"""

from controller.loader.files import LoadedFile, LoaderLimits, blob_id, load_text
from controller.loader.schemas import SchemaSet, default_schemas, schema_directory
from controller.loader.tree import ConfigLoader, LoadedTree

__all__ = [
    "ConfigLoader",
    "LoadedFile",
    "LoadedTree",
    "LoaderLimits",
    "SchemaSet",
    "blob_id",
    "default_schemas",
    "load_text",
    "schema_directory",
]
