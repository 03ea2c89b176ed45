"""AFFILIATE: Crewlogix's affiliate-orders API (``shared/upstream-docs/000_*``)."""
