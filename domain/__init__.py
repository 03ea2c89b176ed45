"""The gateway's domain: orders as ordergate sees them, ids, and the error tree."""
