"""The serving data plane: an HTTP app that answers predictions for every deployed model.

Serving decides nothing. It reads the desired state the registry keeps (``serving_plans``),
loads the versions it names (only when their artifact's hash matches the registry), splits
traffic the way each plan says (stable, candidate, shadow), validates every request against the
serving version's signature, scores concurrent requests together in micro-batches and writes
every answered row to the prediction log before the answer leaves. Rollout, the controller and
people change what serves by moving aliases and deployments in the store; every worker picks the
change up within a poll interval, without a restart and without failing a request.

Modules: ``inputs`` (parse and check request bodies), ``served`` (one loaded version and how it
is called), ``batching`` (the micro-batcher per version), ``models`` (the cache of loaded versions
and the hot swap), ``router`` (which version answers, and the shadow), ``logging`` (the
prediction log writer; ``wal`` the write-ahead one), ``metrics`` (Prometheus), ``auth`` (API
tokens), ``predict`` (the request path from bytes to bytes), ``http`` (errors as status codes),
``schemas`` (OpenAPI shapes) and ``app`` (the FastAPI application).
"""
