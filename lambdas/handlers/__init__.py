"""Lambda entry points. Each module is one function: parse, authorise, call the core, map."""
