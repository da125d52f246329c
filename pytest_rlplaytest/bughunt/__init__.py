"""Bug hunts: find a bug with an exploring agent, record the episode, shrink it, replay it.

* :mod:`.signature` — what "the bug happened" means: an ``info`` event, a predicate over ``info``,
  or a pattern in the engine's log.
* :mod:`.hunt` — the exploring agent's reward (signature + count-based novelty over visited cells)
  and the recorder that saves every episode that hits the signature (imports SB3).
* :mod:`.bundle` — the replay bundle (JSON): seed, versions, build identity, scenario, actions;
  its paths are relative to the bundle's own folder.
* :mod:`.replay` — deterministic lockstep replay of a bundle, several candidates in parallel.
* :mod:`.shrink` — delta debugging (ddmin) plus truncation after the signature.
"""

from .bundle import BUNDLE_SCHEMA_VERSION, BundleError, ReplayBundle
from .signature import BugSignature, SignatureError

__all__ = ["BUNDLE_SCHEMA_VERSION", "BugSignature", "BundleError", "ReplayBundle", "SignatureError"]
