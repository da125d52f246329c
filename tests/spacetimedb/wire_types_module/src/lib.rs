//! The conformance module of pytest-rlplaytest's SpacetimeDB tests: one column of every wire shape
//! the client decodes, and lifecycle reducers that leave a trace.
//!
//! Written against the 2.x `spacetimedb` crate (tag v2.8.3 of clockworklabs/SpacetimeDB):
//! `#[spacetimedb::table(accessor = …, public)]` (`accessor` is required, `name = ident` is the 1.x
//! form and a compile error: crates/bindings-macro/src/table.rs:85-183), `#[spacetimedb::reducer]` and
//! `#[reducer(init | client_connected | client_disconnected)]` (crates/bindings-macro/src/reducer.rs:9-58),
//! `ctx.sender()` / `ctx.connection_id()` methods (crates/bindings/src/lib.rs:1073-1083),
//! `TimeDuration::from_micros` (crates/sats/src/time_duration.rs:34), `ScheduleAt::Interval`.
//! The Python twin is `WireTypes` in tests/spacetimedb/fake_modules.py.
//!
//! Tables: sample (public; Identity, Option<ConnectionId>, Timestamp, TimeDuration, Option<String>, a
//! user enum with a payload, a struct and a unit variant, Vec<String>), lifecycle_event (public), and
//! tick_timer (private, scheduled). Reducers: add_sample, fail; tick (scheduled: private in 2.x).

use spacetimedb::{ConnectionId, Identity, ReducerContext, ScheduleAt, SpacetimeType, Table, TimeDuration, Timestamp};
use std::time::Duration;

#[derive(SpacetimeType, Clone, Debug, PartialEq)]
pub struct Size {
    pub w: u32,
    pub h: u32,
}

/// On the wire the 2.x default case policy makes the variants `circle`, `rect`, `empty`.
#[derive(SpacetimeType, Clone, Debug, PartialEq)]
pub enum Shape {
    Circle(f32),
    Rect(Size),
    Empty,
}

#[spacetimedb::table(accessor = sample, public)]
pub struct Sample {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub owner: Identity,
    pub conn: Option<ConnectionId>,
    pub at: Timestamp,
    pub every: TimeDuration,
    pub label: Option<String>,
    pub shape: Shape,
    pub tags: Vec<String>,
}

#[spacetimedb::table(accessor = lifecycle_event, public)]
pub struct LifecycleEvent {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub kind: String,
    pub who: Identity,
    pub conn: Option<ConnectionId>,
}

#[spacetimedb::table(accessor = tick_timer, scheduled(tick))]
pub struct TickTimer {
    #[primary_key]
    #[auto_inc]
    pub scheduled_id: u64,
    pub scheduled_at: ScheduleAt,
}

#[spacetimedb::reducer(init)]
pub fn init(ctx: &ReducerContext) -> Result<(), String> {
    ctx.db.tick_timer().try_insert(TickTimer {
        scheduled_id: 0,
        scheduled_at: ScheduleAt::Interval(Duration::from_secs(3600).into()),
    })?;
    Ok(())
}

fn log_event(ctx: &ReducerContext, kind: &str) -> Result<(), String> {
    ctx.db.lifecycle_event().try_insert(LifecycleEvent {
        id: 0,
        kind: kind.to_string(),
        who: ctx.sender(),
        conn: ctx.connection_id(),
    })?;
    Ok(())
}

#[spacetimedb::reducer(client_connected)]
pub fn connect(ctx: &ReducerContext) -> Result<(), String> {
    log_event(ctx, "connect")
}

#[spacetimedb::reducer(client_disconnected)]
pub fn disconnect(ctx: &ReducerContext) -> Result<(), String> {
    log_event(ctx, "disconnect")
}

#[spacetimedb::reducer]
pub fn add_sample(ctx: &ReducerContext, label: Option<String>, shape: Shape, tags: Vec<String>) -> Result<(), String> {
    ctx.db.sample().try_insert(Sample {
        id: 0,
        owner: ctx.sender(),
        conn: ctx.connection_id(),
        at: ctx.timestamp,
        every: TimeDuration::from_micros(50_000),
        label,
        shape,
        tags,
    })?;
    Ok(())
}

#[spacetimedb::reducer]
pub fn fail(_ctx: &ReducerContext, message: String) -> Result<(), String> {
    Err(message)
}

/// Scheduled: private to the database owner in a 2.x module, so clients get `no such reducer`.
#[spacetimedb::reducer]
pub fn tick(_ctx: &ReducerContext, _timer: TickTimer) -> Result<(), String> {
    Ok(())
}
