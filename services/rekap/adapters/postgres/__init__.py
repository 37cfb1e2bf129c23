"""The PostgreSQL adapter: migrations, and (later) the repositories the tabulator writes through."""
