"""`flask demo`: a throw-away instance on a local demo relay, filled so every page has data."""
