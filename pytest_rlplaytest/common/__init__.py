"""Small shared building blocks, one concern per module (as in stable-baselines3's ``common``).

* :mod:`.files`: atomic writes (text, JSON, bytes) and the advisory folder lock.
* :mod:`.paths`: the one path rule (marker paths, option paths, paths inside stored files) and
  node-id-to-file-name.
* :mod:`.table`: the one plain-text / Markdown table renderer.
* :mod:`.versioned`: loading versioned JSON files (baselines, bundles, checkpoints) with clear errors.
"""
