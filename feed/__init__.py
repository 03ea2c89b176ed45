"""The change feed (issue 11): every order of every backend kept in an index, each change an
event at an increasing position, streamed to subscribers and partners' webhooks.

codec              the mapped order as JSON, and its content hash
index              what an observation of orders changes in the index, as events
events             reading the event log: pages, filters, positions
hub                live events to this process's subscribers (Redis wakes other replicas)
poller             incremental polling per backend, with checkpoints; full loads
search             listings read from the index: filters and text search in one store query
affiliate_webhooks the affiliate platform's signed order events: receiver and registration
partner_webhooks   partners' outgoing webhooks, signed per Standard Webhooks, with retries
webhook_destinations  where a partner's webhook may be sent (URL shape, no private addresses)
service            the feed's tasks, started and stopped with the app
"""
