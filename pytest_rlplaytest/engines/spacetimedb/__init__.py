"""The SpacetimeDB engine: a server (started or reached), a ``v1.json.spacetimedb`` client, Gymnasium envs.

Modules: :mod:`.install` (find the proxy / ``spacetimedb-cli`` / ``spacetimedb-standalone`` and build
isolated command lines), :mod:`.server` (start/publish/HTTP), :mod:`.codec` (pure protocol
encode/decode), :mod:`.schema` (a module's table schemas from the server's schema endpoint),
:mod:`.client` (asyncio WebSocket client with a table cache), :mod:`.blocking` (the loop thread and a
synchronous client), :mod:`.mapping` (tables -> observations, actions, rewards), :mod:`.env`
(Gymnasium env and VecEnv), :mod:`.engine` (the plugin's ``Engine``), :mod:`.fixtures` (pytest
fixtures for the plugin to register). Nothing heavy is imported here.

Every behaviour of the real server the code relies on is cited in its docstrings and comments as
``file:line @tag`` of ``clockworklabs/SpacetimeDB`` (tags v1.12.0 and v2.8.3).
"""
