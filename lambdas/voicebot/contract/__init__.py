"""The contract: every route, wire event and setting, defined once.

- ``routes``: the Lambda functions, their REST routes and WebSocket routes, with the auth each
  needs. The CDK app, the local twin and the tests all read these tables.
- ``wire``: typed models of every message that crosses the wire, in both directions. Incoming
  bodies are parsed into them; outgoing events are built as them and serialized once, at the edge.
- ``settings``: the settings classes, the only place for environment names and defaults. The CDK
  app and the local stack produce a function's environment from them.
- ``schema``: the JSON Schema of the wire events, generated from ``wire``
  (``docs/wire-schema.json``).

Nothing here imports an AWS SDK, Redis or LangChain, so the CDK app, the interpreter on a device
and the page's tests can import it cheaply.
"""
