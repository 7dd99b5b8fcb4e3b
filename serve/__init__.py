"""Ray Serve deployments: the FastAPI gateway (REST + WebSocket) arrives in a later issue."""
