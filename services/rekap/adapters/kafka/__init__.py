"""The Kafka adapter: topics, producers and consumers."""
