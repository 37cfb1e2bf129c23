"""The public results site: static pages (HTML and JSON) built from one snapshot of the database."""
