"""The local stack for development, demos and tests: a real Kafka broker and a real PostgreSQL."""
