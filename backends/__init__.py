"""One package per upstream order system, each with the same files:

wire.py       the upstream's own shapes (validated pydantic models)
client.py     the HTTP calls, authenticated, mapped onto the error tree
adapter.py    the ``OrderBackend`` implementation and the one wire->domain mapping
writes.py     what a write needs before it is sent: checks, request bodies, catalogs
simulator.py  a real HTTP server speaking the upstream's wire format (its routes)
simstate.py   the simulator's data: a deterministic seed and the upstream's own rules
"""
