"""Request/response models of the core API, one module per area, apart from storage code."""
