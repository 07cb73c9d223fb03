"""The HTTP surface: translates requests into store and call operations, nothing more."""
