"""Full-text search over tickets, articles and people, on SQLite FTS5 or PostgreSQL tsvector."""
