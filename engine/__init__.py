"""callengine: actor-based concurrent call engine (see README.md and docs/)."""

__version__ = "0.1.0"
