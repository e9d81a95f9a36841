"""Pure-Python entities and value rules of Keel; imports no framework."""
