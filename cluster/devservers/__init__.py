"""Real servers Octet starts by itself: PostgreSQL and Redis (Kafka arrives with the bus)."""
