"""What ordergate tells its operators: each request's record (``telemetry.record``), the
Prometheus metrics (``telemetry.metrics``), the OpenTelemetry traces (``telemetry.tracing``)
and the log lines (``telemetry.logs``). The gateway, the adapters and the store report here;
nothing here knows GraphQL or HTTP routing."""
