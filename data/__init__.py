"""ember.data: not built yet (see the project's issues); the public API will live here."""

__all__: list[str] = []
