"""One package per upstream order system, each with the same files:

wire.py       the upstream's own shapes (validated pydantic models)
client.py     the HTTP calls, authenticated, mapped onto the error tree
adapter.py    the ``OrderBackend`` implementation and the one wire->domain mapping
simulator.py  a real HTTP server speaking the upstream's wire format, with seed data
"""
