"""Where the photos of the forms are kept: a folder laid out by digest."""
