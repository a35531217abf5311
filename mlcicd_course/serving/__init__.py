"""Serving models over HTTP: model server, router, admin API, lifecycle, load generator.

Modules: `app` (the model server), `router` (the reverse proxy) with `routing` (the
table and the assignment), `admin` (its admin API) and `admin_client` (`RouterAdmin`),
`shadow` (mirroring), `request_ids` (X-Request-Id), `upstream` (HTTP clients),
`lifecycle` (start and stop servers from Python), `loadgen` (load and its summary),
`settings`, `metrics`.
"""
