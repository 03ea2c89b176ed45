"""The toolkit the four simulated upstreams share: control API, faults, auth, servers, fake data."""
