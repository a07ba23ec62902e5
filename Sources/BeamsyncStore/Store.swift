// BeamsyncStore: PostgreSQL state (see docs).
