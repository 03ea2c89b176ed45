"""The gateway process: settings, the ASGI app and its lifecycle, and the command line."""
