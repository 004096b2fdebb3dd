"""What both APIs (the core's and the serving API), the POS paths and the workers share,
defined once (ARCHITECTURE, "Shared once"):

- `errors`: the error codes (`ErrorCode`) and classes (`DomainError` and its kinds);
- `http`: the error envelope `{"error": {"code", "message"[, "details"]}}`, its OpenAPI
  model, and the exception handlers every FastAPI app installs;
- `money`: `Money`, a KGS amount (Decimal, 2 places, a decimal string in JSON).

It imports nothing from the applications (a client such as `pos_producer` may use it).
"""
