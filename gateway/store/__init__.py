"""Persistence: peewee models, database setup and migrations. Only the core imports this."""
