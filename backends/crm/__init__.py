"""CRM: the Order Assets admin API (``shared/upstream-docs/002_*``), PascalCase JSON."""
