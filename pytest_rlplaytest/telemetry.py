"""The ``info`` key contract between a game and the plugin.

Any engine (Gymnasium, Godot with our addon or the official plugin, SpacetimeDB) may report these
keys in each step's ``info`` dict; the plugin aggregates them per episode and judges budgets on them.

==================  ===========================================================================
key                 meaning
==================  ===========================================================================
``frame_ms``        the game's own work for this step's physics frame(s), in milliseconds,
                    measured inside the game and excluding time blocked on the socket
``object_count``    live objects in the engine (Godot: ``Performance.OBJECT_COUNT``)
``static_memory_mb`` static memory in MiB (Godot: ``Performance.MEMORY_STATIC``)
``events``          a list of named game events that happened during this step
                    (``landed``, ``crashed``, ``out_of_world``, ...)
``position``        the agent's position ``[x, y]`` or ``[x, y, z]`` (heatmaps, bug hunts)
``is_success``      Gymnasium's convention: truthy at an episode's end when it succeeded
==================  ===========================================================================

Every other numeric ``info`` value is kept too, per step, and aggregated per episode.
"""

FRAME_MS_KEY = "frame_ms"
OBJECT_COUNT_KEY = "object_count"
STATIC_MEMORY_KEY = "static_memory_mb"
EVENTS_KEY = "events"
POSITION_KEY = "position"
SUCCESS_KEY = "is_success"
#: set by the plugin's seeding wrapper: the seed that reproduces the current episode
EPISODE_SEED_KEY = "rl_episode_seed"

#: keys that are not per-step metrics
RESERVED_INFO_KEYS = frozenset(
    {EVENTS_KEY, POSITION_KEY, SUCCESS_KEY, EPISODE_SEED_KEY, "terminal_observation", "TimeLimit.truncated",
     "episode", "_final_observation", "_final_info"}
)


def normalize_events(value: object) -> tuple[str, ...]:
    """The events of one ``info`` as a tuple of names: ``info["events"]`` may be absent or None
    (no events), one name, or a list of names (what games send)."""
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(str(name) for name in value)
    return (str(value),)


def info_events(info: object) -> tuple[str, ...]:
    """The named events in one step's ``info`` (see :func:`normalize_events`)."""
    if not isinstance(info, dict):
        return ()
    return normalize_events(info.get(EVENTS_KEY))
