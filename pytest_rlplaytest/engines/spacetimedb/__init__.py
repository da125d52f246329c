"""The SpacetimeDB engine: a server (started or reached), a ``v1.json.spacetimedb`` client, Gymnasium envs.

Modules: :mod:`.server` (start/publish/HTTP), :mod:`.codec` (pure protocol encode/decode),
:mod:`.client` (asyncio WebSocket client with a table cache), :mod:`.mapping` (tables -> observations,
actions, rewards), :mod:`.env` (Gymnasium env and VecEnv), :mod:`.engine` (the plugin's ``Engine``),
:mod:`.fixtures` (pytest fixtures for the plugin to register). Nothing heavy is imported here.
"""
