"""The PostgreSQL backend: several Postier nodes sharing one database."""
