"""Unit tests of the pure protocol codec, the table cache and the observation/reward mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_rlplaytest.engines.spacetimedb import codec
from pytest_rlplaytest.engines.spacetimedb.blackholio import CIRCLE, ENTITY, FOOD, PLAYER, SCHEMAS
from pytest_rlplaytest.engines.spacetimedb.cache import TableCache
from pytest_rlplaytest.engines.spacetimedb.codec import (
    IDENTITY,
    TIMESTAMP,
    OptionOf,
    Product,
    ProtocolError,
    Sum,
    TableSchema,
    TableUpdate,
)
from pytest_rlplaytest.engines.spacetimedb.mapping import (
    ContinuousAction,
    ObservationSpec,
    ReducerCall,
    RewardSpec,
    agent_state,
    observe,
    reward,
)

ID64 = "00" + "ab" * 31
SOCKET_ID = "0x" + ("ab" * 31)  # leading zeros stripped on the socket


# -- identities, options, sums ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    {"__identity__": SOCKET_ID}, [SOCKET_ID], SOCKET_ID, SOCKET_ID.upper().replace("0X", "0x"), ID64,
    int(ID64, 16),
])
def test_identity_forms_normalise_to_64_hex(value: object) -> None:
    assert codec.normalize_identity(value) == ID64


def test_identity_socket_form_strips_leading_zeros() -> None:
    assert codec.identity_socket_form(ID64) == SOCKET_ID
    assert codec.identity_socket_form("0" * 64) == "0x0"


@pytest.mark.parametrize("bad", ["0xzz", "g" * 64, "1" * 65, None, True, 1.5, {"identity": "0x1"}])
def test_identity_rejects_non_identities(bad: object) -> None:
    with pytest.raises(ProtocolError):
        codec.normalize_identity(bad)


@pytest.mark.parametrize(("wire", "value"), [
    ([0, 5], 5), ([0, {"x": 1}], {"x": 1}), ([1, []], None), ([1, {}], None), ({"some": 3}, 3),
    ({"none": []}, None), (None, None),
])
def test_option_decoding(wire: object, value: object) -> None:
    assert codec.decode_option(wire) == value


@pytest.mark.parametrize("bad", [[2, 1], [1, 5], "x", [0], {"maybe": 1}])
def test_option_rejects_other_shapes(bad: object) -> None:
    with pytest.raises(ProtocolError, match="Option"):
        codec.decode_option(bad)


def test_sum_decoding_by_tag_and_by_name() -> None:
    schedule = Sum.of(("Interval", None), ("Time", TIMESTAMP))
    assert codec.decode_value([0, 50000], schedule) == ("Interval", 50000)
    assert codec.decode_value([1, [123]], schedule) == ("Time", 123)
    assert codec.decode_value({"Time": {"__timestamp_micros_since_unix_epoch__": 9}}, schedule) == ("Time", 9)
    with pytest.raises(ProtocolError, match="out of range"):
        codec.decode_value([2, 0], schedule)
    with pytest.raises(ProtocolError, match="sum"):
        codec.decode_sum("Interval")


def test_option_of_nested_product() -> None:
    typ = OptionOf(Product.of("x", "y"))
    assert codec.decode_value([0, [1.5, 2.5]], typ) == {"x": 1.5, "y": 2.5}
    assert codec.decode_value([1, []], typ) is None


# -- rows ---------------------------------------------------------------------------------------------
def test_keyed_and_positional_rows_decode_the_same() -> None:
    keyed = json.dumps({"entity_id": 7, "player_id": 2, "direction": {"x": 0.0, "y": 1.0}, "speed": 0.5,
                        "last_split_time": {"__timestamp_micros_since_unix_epoch__": 1234}})
    positional = json.dumps([7, 2, [0.0, 1.0], 0.5, [1234]])
    expected = {"entity_id": 7, "player_id": 2, "direction": {"x": 0.0, "y": 1.0}, "speed": 0.5,
                "last_split_time": 1234}
    assert codec.decode_row(keyed, CIRCLE) == expected
    assert codec.decode_row(positional, CIRCLE) == expected


def test_player_identity_in_both_encodings() -> None:
    keyed = json.dumps({"identity": {"__identity__": SOCKET_ID}, "player_id": 1, "name": "bot"})
    positional = json.dumps([[SOCKET_ID], 1, "bot"])
    assert codec.decode_row(keyed, PLAYER)["identity"] == ID64
    assert codec.decode_row(positional, PLAYER)["identity"] == ID64


def test_positional_row_with_wrong_arity_names_the_schema() -> None:
    with pytest.raises(ProtocolError, match="3 fields"):
        codec.decode_row("[1, 2]", ENTITY, "entity")


def test_positional_row_without_schema_says_to_declare_one() -> None:
    with pytest.raises(ProtocolError, match="declare a TableSchema"):
        codec.decode_row("[1, 2]", None, "mystery")


def test_undecodable_inner_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        codec.decode_row("{not json", FOOD, "food")


def test_encode_row_round_trips_both_encodings() -> None:
    row = {"identity": ID64, "player_id": 3, "name": "x"}
    for positional in (False, True):
        assert codec.decode_row(codec.encode_row(row, PLAYER, positional), PLAYER) == row
    assert json.loads(codec.encode_row(row, PLAYER, True))[0] == [SOCKET_ID]


def test_schema_rejects_unknown_primary_key() -> None:
    with pytest.raises(ValueError, match="primary key"):
        TableSchema.of("t", ["a"], primary_key="b")


# -- client messages ------------------------------------------------------------------------------------
def test_call_reducer_args_are_a_json_string() -> None:
    msg = json.loads(codec.encode_call_reducer("update_player_input", [{"x": 1.0, "y": 0.0}], 3))
    body = msg["CallReducer"]
    assert body["reducer"] == "update_player_input" and body["request_id"] == 3 and body["flags"] == 0
    assert isinstance(body["args"], str)
    assert json.loads(body["args"]) == [{"x": 1.0, "y": 0.0}]


def test_call_reducer_rejects_nan_args() -> None:
    with pytest.raises(ValueError, match="cannot be sent as JSON"):
        codec.encode_call_reducer("r", [float("nan")], 1)


def test_subscribe_messages_shapes() -> None:
    assert json.loads(codec.encode_subscribe(["SELECT * FROM player"], 1)) == {
        "Subscribe": {"query_strings": ["SELECT * FROM player"], "request_id": 1}}
    assert json.loads(codec.encode_subscribe_multi(["SELECT * FROM food"], 2, 5)) == {
        "SubscribeMulti": {"query_strings": ["SELECT * FROM food"], "request_id": 2, "query_id": {"id": 5}}}
    assert json.loads(codec.encode_one_off_query("0a0b", "SELECT * FROM config")) == {
        "OneOffQuery": {"message_id": "0a0b", "query_string": "SELECT * FROM config"}}


# -- server messages ------------------------------------------------------------------------------------
def _tu(table: str, deletes: list[str], inserts: list[str]) -> dict[str, object]:
    return {"table_id": 4097, "table_name": table, "num_rows": len(inserts),
            "updates": [{"deletes": deletes, "inserts": inserts}]}


def test_parse_identity_token() -> None:
    msg = codec.parse_server_message(json.dumps({"IdentityToken": {
        "identity": {"__identity__": SOCKET_ID}, "token": "tok", "connection_id": {"__connection_id__": 77}}}))
    assert isinstance(msg, codec.IdentityToken)
    assert (msg.identity, msg.token, msg.connection_id) == (ID64, "tok", 77)


def test_parse_initial_subscription_and_multi_applied() -> None:
    row = json.dumps({"entity_id": 1})
    msg = codec.parse_server_message(json.dumps({"InitialSubscription": {
        "database_update": {"tables": [_tu("food", [], [row])]}, "request_id": 1,
        "total_host_execution_duration": {"__time_duration_micros__": 5}}}))
    assert isinstance(msg, codec.InitialSubscription)
    assert msg.request_id == 1 and msg.tables[0].table_name == "food" and msg.tables[0].inserts == [row]
    multi = codec.parse_server_message(json.dumps({"SubscribeMultiApplied": {
        "request_id": 2, "query_id": {"id": 9}, "update": {"tables": [_tu("food", [], [row])]},
        "total_host_execution_duration_micros": 3}}))
    assert isinstance(multi, codec.SubscribeMultiApplied)
    assert (multi.request_id, multi.query_id, len(multi.tables)) == (2, 9, 1)


def test_parse_transaction_update_committed_with_double_encoded_args() -> None:
    msg = codec.parse_server_message(json.dumps({"TransactionUpdate": {
        "status": {"Committed": {"tables": [_tu("food", ["[1]"], ["[2]"])]}},
        "timestamp": {"__timestamp_micros_since_unix_epoch__": 1700},
        "caller_identity": {"__identity__": SOCKET_ID},
        "caller_connection_id": {"__connection_id__": 4},
        "reducer_call": {"reducer_name": "enter_game", "reducer_id": 3, "args": "[\"bot\"]", "request_id": 12},
        "energy_quanta_used": {"quanta": 0}}}))
    assert isinstance(msg, codec.TransactionUpdate)
    assert msg.status == "committed" and msg.error is None
    assert msg.args == ["bot"] and msg.request_id == 12 and msg.reducer_name == "enter_game"
    assert msg.caller_identity == ID64 and msg.timestamp_us == 1700 and msg.caller_connection_id == 4
    assert msg.tables[0].deletes == ["[1]"] and msg.tables[0].inserts == ["[2]"]


@pytest.mark.parametrize(("status", "name", "error"), [
    ({"Failed": "Player not found"}, "failed", "Player not found"),
    ({"OutOfEnergy": []}, "out_of_energy", "the database ran out of energy"),
])
def test_parse_transaction_update_failures(status: object, name: str, error: str) -> None:
    msg = codec.parse_server_message(json.dumps({"TransactionUpdate": {
        "status": status, "timestamp": {"__timestamp_micros_since_unix_epoch__": 1},
        "caller_identity": {"__identity__": "0x1"},
        "reducer_call": {"reducer_name": "respawn", "reducer_id": 1, "args": "[]", "request_id": 4}}}))
    assert isinstance(msg, codec.TransactionUpdate)
    assert (msg.status, msg.error, msg.tables) == (name, error, [])


def test_parse_light_update_subscription_error_and_one_off_response() -> None:
    light = codec.parse_server_message(json.dumps({"TransactionUpdateLight": {
        "request_id": 0, "update": {"tables": [_tu("entity", [], [])]}}}))
    assert isinstance(light, codec.TransactionUpdateLight) and light.tables[0].table_name == "entity"
    # message-level Options are named sums (crates/sats/src/ser/impls.rs:116-119 @2.8.3)
    err = codec.parse_server_message(json.dumps({"SubscriptionError": {
        "total_host_execution_duration_micros": 1, "request_id": {"some": 5}, "query_id": {"some": 9},
        "table_id": {"none": []}, "error": "no such table"}}))
    assert isinstance(err, codec.SubscriptionError)
    assert (err.request_id, err.query_id, err.table_id, err.error) == (5, 9, None, "no such table")
    later = codec.parse_server_message(json.dumps({"SubscriptionError": {
        "total_host_execution_duration_micros": 1, "request_id": {"none": []}, "query_id": {"none": []},
        "table_id": {"none": []}, "error": "evaluation failed"}}))
    assert isinstance(later, codec.SubscriptionError) and later.request_id is None
    resp = codec.parse_server_message(json.dumps({"OneOffQueryResponse": {
        "message_id": "0a0b", "error": {"none": []}, "tables": [{"table_name": "food", "rows": ['{"entity_id":3}']}],
        "total_host_execution_duration": {"__time_duration_micros__": 2}}}))
    assert isinstance(resp, codec.OneOffQueryResponse)
    assert (resp.message_id, resp.error, resp.tables[0].rows) == ("0a0b", None, ['{"entity_id":3}'])
    failed = codec.parse_server_message(json.dumps({"OneOffQueryResponse": {
        "message_id": [10, 11], "error": {"some": "bad sql"}, "tables": []}}))
    assert isinstance(failed, codec.OneOffQueryResponse)
    assert (failed.message_id, failed.error) == ("0a0b", "bad sql")


@pytest.mark.parametrize(("wire", "value"), [
    (3, 3), ({"id": 4}, 4), ({"some": 5}, 5), ({"some": {"id": 6}}, 6), ({"none": []}, None), (None, None)])
def test_message_ids_in_every_form(wire: object, value: object) -> None:
    assert codec._opt_int(wire) == value


@pytest.mark.parametrize("bad", ["1", 1.5, True, {"some": "x"}, [0, 1]])
def test_message_ids_reject_other_shapes(bad: object) -> None:
    with pytest.raises(ProtocolError, match="integer id"):
        codec._opt_int(bad)


def test_message_error_update_is_recognised() -> None:
    msg = codec.parse_server_message(json.dumps({"TransactionUpdate": {
        "status": {"Failed": "no such reducer"}, "timestamp": {"__timestamp_micros_since_unix_epoch__": 1},
        "caller_identity": {"__identity__": SOCKET_ID}, "caller_connection_id": {"__connection_id__": 2**100},
        "reducer_call": {"reducer_name": "fly", "reducer_id": 4294967295, "args": "[]", "request_id": 0},
        "energy_quanta_used": {"quanta": 0}, "total_host_execution_duration": {"__time_duration_micros__": 0}}}))
    assert isinstance(msg, codec.TransactionUpdate)
    assert msg.is_message_error and msg.caller_connection_id == 2**100 and msg.reducer_id == 4294967295


def test_special_types_arrays_and_unit_payloads() -> None:
    shape = Sum.of(("circle", None), ("rect", Product.of("w", "h")), ("empty", Product(())))
    row = TableSchema.of("sample", [("every", codec.TIME_DURATION), ("conn", OptionOf(codec.CONNECTION_ID)),
                                    ("shape", shape), ("tags", codec.ArrayOf(None)),
                                    ("owners", codec.ArrayOf(IDENTITY))])
    keyed = json.dumps({"every": {"__time_duration_micros__": 50}, "conn": [0, {"__connection_id__": 7}],
                        "shape": [2, {}], "tags": ["a"], "owners": [{"__identity__": SOCKET_ID}]})
    positional = json.dumps([[50], [0, [7]], [2, []], ["a"], [[SOCKET_ID]]])
    expected = {"every": 50, "conn": 7, "shape": ("empty", None), "tags": ["a"], "owners": [ID64]}
    assert codec.decode_row(keyed, row) == codec.decode_row(positional, row) == expected
    assert codec.decode_row(json.dumps([[1], [1, []], [1, [2, 3]], [], []]), row)["shape"] == ("rect", {"w": 2, "h": 3})
    for is_positional in (False, True):
        assert codec.decode_row(codec.encode_row(expected, row, is_positional), row) == expected
    assert json.loads(codec.encode_row({**expected, "conn": None}, row, False))["conn"] == [1, {}]
    assert json.loads(codec.encode_row({**expected, "conn": None}, row, True))[1] == [1, []]
    assert codec.some(3) == {"some": 3}


def test_unknown_kinds_are_kept_not_fatal() -> None:
    msg = codec.parse_server_message('{"UnsubscribeApplied": {"request_id": 1}}')
    assert isinstance(msg, codec.UnknownMessage) and msg.kind == "UnsubscribeApplied"


@pytest.mark.parametrize(("frame", "match"), [
    (b"\x00\x01", "binary frame"),
    ("not json", "invalid JSON"),
    ('{"A": 1, "B": 2}', "one key"),
    ('{"TransactionUpdate": {"status": 17}}', "status"),
    ('{"TransactionUpdate": {"status": {"Exploded": 1}}}', "unknown TransactionUpdate status"),
    ('{"IdentityToken": {"token": "t"}}', "lacks 'identity'"),
    ('{"InitialSubscription": {"database_update": {"tables": [{"updates": []}]}}}', "table_name"),
])
def test_protocol_violations_are_typed_errors(frame: str | bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        codec.parse_server_message(frame)


# -- cache --------------------------------------------------------------------------------------------
def test_cache_applies_positional_update_as_delete_plus_insert() -> None:
    cache = TableCache(SCHEMAS)
    keyed = json.dumps({"entity_id": 1, "position": {"x": 1.0, "y": 2.0}, "mass": 15})
    cache.apply([TableUpdate("entity", None, [], [keyed])])
    cache.apply([TableUpdate("entity", None, [json.dumps([1, [1.0, 2.0], 15])], [json.dumps([1, [3.0, 2.0], 19])])])
    assert cache.rows("entity") == [{"entity_id": 1, "position": {"x": 3.0, "y": 2.0}, "mass": 19}]
    assert cache.table_versions["entity"] == 2
    cache.apply([TableUpdate("entity", None, [json.dumps([1, [3.0, 2.0], 19])], [])])
    assert cache.count("entity") == 0


def test_cache_learns_column_order_from_keyed_rows() -> None:
    cache = TableCache()
    cache.apply([TableUpdate("score", None, [], [json.dumps({"who": "a", "points": 1})])])
    cache.apply([TableUpdate("score", None, [json.dumps(["a", 1])], [json.dumps(["a", 2])])])
    assert cache.rows("score") == [{"who": "a", "points": 2}]
    with pytest.raises(ProtocolError, match="declare a TableSchema"):
        cache.apply([TableUpdate("other", None, [], [json.dumps([1])])])


def test_cache_find_needs_a_primary_key() -> None:
    cache = TableCache([TableSchema.of("t", ["a"])])
    with pytest.raises(ProtocolError, match="primary key"):
        cache.find("t", 1)


# -- mapping ------------------------------------------------------------------------------------------
def _world() -> TableCache:
    cache = TableCache(SCHEMAS)
    rows = {
        "config": [{"id": 0, "world_size": 200}],
        "player": [{"identity": ID64, "player_id": 1, "name": "me"},
                   {"identity": "f" * 64, "player_id": 2, "name": "them"}],
        "entity": [{"entity_id": 1, "position": {"x": 100.0, "y": 100.0}, "mass": 20},
                   {"entity_id": 2, "position": {"x": 110.0, "y": 100.0}, "mass": 3},
                   {"entity_id": 3, "position": {"x": 100.0, "y": 150.0}, "mass": 40},
                   {"entity_id": 4, "position": {"x": 10.0, "y": 10.0}, "mass": 2}],
        "circle": [{"entity_id": 1, "player_id": 1, "direction": {"x": 0.0, "y": 1.0}, "speed": 0.0,
                    "last_split_time": 0},
                   {"entity_id": 3, "player_id": 2, "direction": {"x": 0.0, "y": 1.0}, "speed": 0.0,
                    "last_split_time": 0}],
        "food": [{"entity_id": 2}, {"entity_id": 4}],
    }
    schemas = {s.name: s for s in SCHEMAS}
    cache.apply([TableUpdate(t, None, [], [codec.encode_row(r, schemas[t], False) for r in rs])
                 for t, rs in rows.items()])
    return cache


def test_observation_is_own_state_then_nearest_relative_padded() -> None:
    spec = ObservationSpec(k_nearest=4, distance_scale=100.0, mass_scale=50.0)
    cache = _world()
    me = agent_state(cache, spec, ID64)
    assert (me.player_id, me.mass, me.center, me.owned) == (1, 20.0, (100.0, 100.0), 1)
    obs = observe(cache, spec, me)
    assert obs.shape == (spec.size,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[:5], [1.0, 0.0, 0.0, 0.4, 1 / 16], rtol=1e-6)
    food = obs[5:12]  # nearest: the food 10 to the right
    np.testing.assert_allclose(food, [1, 0.1, 0.0, 0.1, 3 / 20, 1, 0], rtol=1e-6)
    enemy = obs[12:19]  # then the enemy circle 50 up
    np.testing.assert_allclose(enemy, [1, 0.0, 0.5, 0.5, 2.0, 0, 1], rtol=1e-6)
    assert obs[19] == 1.0 and obs[24] == 1.0  # far food, flagged as food
    assert not obs[26:].any()  # the 4th slot is padding


def test_observation_of_a_dead_agent_is_zero() -> None:
    spec = ObservationSpec(k_nearest=2)
    cache = _world()
    me = agent_state(cache, spec, "e" * 64)
    assert not me.alive and not observe(cache, spec, me).any()


def test_reward_is_mass_gain_and_death_penalty() -> None:
    spec = ObservationSpec()
    cache = _world()
    before = agent_state(cache, spec, ID64)
    cache.apply([TableUpdate("entity", None, [json.dumps([1, [100.0, 100.0], 20])],
                             [json.dumps([1, [101.0, 100.0], 23])])])
    after = agent_state(cache, spec, ID64)
    assert reward(RewardSpec(mass_scale=10.0), before, after) == (pytest.approx(0.3), False, ["gained_mass"])
    cache.apply([TableUpdate("circle", None, [json.dumps([1, 1, [0.0, 1.0], 0.0, [0]])], [])])
    dead = agent_state(cache, spec, ID64)
    assert reward(RewardSpec(death_penalty=2.0), after, dead) == (-2.0, True, ["died"])


def test_reducer_call_renders_name_and_continuous_actions_clip() -> None:
    assert ReducerCall("enter_game", ("{name}",)).render("agent3") == ("agent3",)
    act = ContinuousAction("update_player_input")
    assert act.args(np.array([2.0, -0.5])) == ({"x": 1.0, "y": -0.5},)
    with pytest.raises(ValueError, match="expects 2"):
        act.args([1.0])


def test_identity_typed_column_via_product_helpers() -> None:
    typ = Product.of(("who", IDENTITY), "n")
    assert codec.decode_value([[SOCKET_ID], 1], typ) == {"who": ID64, "n": 1}


# -- module schemas (GET /v1/database/{db}/schema?version=9) -------------------------------------------
def _doc_shaped_schema() -> dict[str, object]:
    """A ``RawModuleDefV9`` shaped like the example in the HTTP API docs (00300-database.md @v2.8.3)."""
    def el(name: str, typ: object) -> dict[str, object]:
        return {"name": {"some": name}, "algebraic_type": typ}

    vec = {"Product": {"elements": [el("x", {"F32": []}), el("y", {"F32": []})]}}
    person = {"Product": {"elements": [
        el("id", {"U32": []}), el("who", {"Product": {"elements": [el("__identity__", {"U256": []})]}}),
        el("at", {"Product": {"elements": [el("__timestamp_micros_since_unix_epoch__", {"I64": []})]}}),
        el("pos", {"Ref": 0}), el("nick", {"Sum": {"variants": [el("some", {"String": []}),
                                                                el("none", {"Product": {"elements": []}})]}}),
        el("path", {"Array": {"Ref": 0}}),
        el("mood", {"Sum": {"variants": [el("happy", {"Product": {"elements": []}}), el("score", {"I32": []})]}}),
        {"name": {"none": []}, "algebraic_type": {"Bool": []}}]}}
    return {"typespace": {"types": [vec, person]},
            "tables": [{"name": "person", "product_type_ref": 1, "primary_key": [0], "indexes": [], "constraints": [],
                        "sequences": [], "schedule": {"none": []}, "table_type": {"User": []},
                        "table_access": {"Public": []}}],
            "reducers": [{"name": "add", "params": {"elements": [el("name", {"String": []})]},
                          "lifecycle": {"none": []}},
                         {"name": "identity_connected", "params": {"elements": []},
                          "lifecycle": {"some": {"OnConnect": []}}}],
            "types": [], "misc_exports": [], "row_level_security": []}


def test_module_schema_types_columns_from_the_typespace() -> None:
    from pytest_rlplaytest.engines.spacetimedb.schema import parse_module_def

    module = parse_module_def(_doc_shaped_schema())
    person = module.tables["person"]
    vec = Product.of("x", "y")
    assert person.primary_key == "id" and person.column_names == ("id", "who", "at", "pos", "nick", "path", "mood", "7")
    assert dict(person.columns) == {"id": None, "who": IDENTITY, "at": TIMESTAMP, "pos": vec, "nick": OptionOf(None),
                                    "path": codec.ArrayOf(vec), "mood": Sum.of(("happy", Product(())), "score"),
                                    "7": None}
    assert module.public == {"person"} and module.client_reducers() == ["add"]
    assert module.reducers["identity_connected"].lifecycle == "OnConnect"
    row = codec.decode_row(json.dumps([1, ["0x1"], [5], [1.0, 2.0], [1, []], [[0.0, 0.5]], [0, []], True]), person)
    assert row == {"id": 1, "who": "0" * 63 + "1", "at": 5, "pos": {"x": 1.0, "y": 2.0}, "nick": None,
                   "path": [{"x": 0.0, "y": 0.5}], "mood": ("happy", None), "7": True}


@pytest.mark.parametrize(("change", "match"), [
    (lambda d: d.pop("tables"), "not a RawModuleDefV9"),
    (lambda d: d["tables"][0].update(product_type_ref=9), "outside the typespace"),
    (lambda d: d["typespace"]["types"][1].update({"Product": {"elements": [
        {"name": {"some": "p"}, "algebraic_type": {"Ref": 7}}]}}), "outside the typespace"),
    (lambda d: d["typespace"]["types"].__setitem__(1, {"U32": []}), "not a Product"),
])
def test_module_schema_rejects_broken_documents(change: object, match: str) -> None:
    from pytest_rlplaytest.engines.spacetimedb.schema import parse_module_def

    data = _doc_shaped_schema()
    change(data)  # type: ignore[operator]
    with pytest.raises(ProtocolError, match=match):
        parse_module_def(data)


def test_module_schema_matches_the_double_and_blackholio_mapping() -> None:
    from fake_modules import blackholio_module
    from fake_spacetimedb_server import module_def_v9

    from pytest_rlplaytest.engines.spacetimedb.schema import parse_module_def

    module = parse_module_def(module_def_v9(blackholio_module()))
    for declared in SCHEMAS:  # the mapping's declared schemas agree with what the server reports
        assert module.tables[declared.name].column_names == declared.column_names
        assert module.tables[declared.name].primary_key == declared.primary_key
    assert module.scheduled == {"move_all_players", "spawn_food"}
