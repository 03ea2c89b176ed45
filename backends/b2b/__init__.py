"""B2B wholesale order API (upstream-docs/003_*): wire models, client, adapter, simulator."""
