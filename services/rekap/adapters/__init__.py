"""Thin adapters between the pure domain and the outside: Kafka and PostgreSQL."""
