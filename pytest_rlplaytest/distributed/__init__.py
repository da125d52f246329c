"""Scale-out on a Ray cluster (``--rl-ray[=ADDRESS]``, the ``pytest-rlplaytest[ray]`` extra).

Nothing here imports ``ray`` at module level except the modules that only run with the option on
(``actors``, ``vec_env``, ``evaluation``, ``replays``): without ``--rl-ray`` nothing imports it.

* :mod:`.cluster`: the option's value, connecting to (or starting) the cluster, shutting it down,
  the custom resource that caps game instances per node.
* :mod:`.game`: what travels to a node (the game, packed once per build; or a shared path) and the
  build-identity check every node makes against the driver's.
* :mod:`.actors`: the Ray actor that owns one game instance on its node.
* :mod:`.vec_env`: an SB3 ``VecEnv`` whose sub-environments are such actors (training, replays).
* :mod:`.evaluation`: evaluation episodes split into shards by their per-episode seeds, merged back
  in seed order.
* :mod:`.replays`: bug-hunt shrink replays on the cluster.
* :mod:`.engine`: :class:`~.engine.RayEngine`, the wrapper the fixtures use so that ``rl_env``,
  ``rl_playtest`` and ``rl_bughunt`` fan out without changing.
"""
