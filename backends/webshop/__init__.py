"""WEBSHOP: CloudSuite's webshop order API (``001_*``): wire models, adapter, simulator."""
