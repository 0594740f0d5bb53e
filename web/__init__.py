"""The Flask web UI (server-rendered, Dutch). It calls the engine and never the other way round."""
