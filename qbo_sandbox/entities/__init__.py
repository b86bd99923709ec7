"""Per-entity rules of the emulated QBO company (qbo-api.md §4)."""
