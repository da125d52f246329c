//! A Blackholio-style game for pytest-rlplaytest: players steer circles, eat food and smaller
//! circles, and grow.
//!
//! Written against the SpacetimeDB 2.x Rust module API (the `spacetimedb` crate at tag v2.8.3 of
//! clockworklabs/SpacetimeDB), as the upstream 2.x Blackholio demo is (`demo/Blackholio/server-rust`):
//!
//! * `#[spacetimedb::table(accessor = x, public)]`: `accessor` is required and the 1.x `name = x` is a
//!   compile error (crates/bindings-macro/src/table.rs:85-183); tables are private by default
//!   (table.rs:1159-1160); field attributes `#[primary_key]`, `#[unique]`, `#[auto_inc]`,
//!   `#[index(btree)]` (crates/bindings-macro/src/lib.rs:220, table.rs:369-406);
//!   `scheduled(reducer)` with `scheduled_id` / `scheduled_at: ScheduleAt` columns (table.rs:195-231);
//! * `#[spacetimedb::reducer]`, `#[reducer(init | client_connected | client_disconnected)]`
//!   (crates/bindings-macro/src/reducer.rs:9-58);
//! * `ReducerContext`: `ctx.sender()` is a method (crates/bindings/src/lib.rs:1073-1075), `ctx.timestamp`
//!   and `ctx.db` fields, `ctx.rng()` (crates/bindings/src/rng.rs:49, `spacetimedb::rand` is rand 0.8,
//!   a default feature: lib.rs:32, crates/bindings/Cargo.toml:17-19);
//! * `Table::try_insert`/`count`/`iter`, unique-column `find`/`update`/`delete`, btree `filter`
//!   (crates/bindings/src/table.rs:28-103,351-428,599-640); `TryInsertError` converts into `String`
//!   for `?` (table.rs:256); `Timestamp::duration_since` (crates/sats/src/timestamp.rs:118).
//!
//! Scheduled reducers of a 2.x module are private to the database owner (the server's validation,
//! crates/schema/src/def/validate/v10.rs:386-423), so clients cannot call the ticks.
//!
//! It is NOT compiled in this repository's CI (no `spacetimedb` crate or `spacetime` CLI offline).
//! The Python test double in `tests/spacetimedb/fake_modules.py` (class `World`) implements the same
//! rules with the same constants, and the tests that need this module for real skip when `spacetime`
//! is absent.
//!
//! Tables: config, entity, circle, player, food (public); move/spawn timers (scheduled, private).
//! Client reducers: enter_game(name), update_player_input(direction), player_split(), respawn(),
//! suicide(). Lifecycle: init, client_connected, client_disconnected (which deletes the caller's
//! player: an HTTP reducer call, wrapped in connect/disconnect by the server, is undone at once).

use spacetimedb::rand::Rng;
use spacetimedb::{Identity, ReducerContext, ScheduleAt, SpacetimeType, Table, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

const WORLD_SIZE: u64 = 400;
const TARGET_FOOD_COUNT: u64 = 480;
const START_MASS: u32 = 15;
const START_SPEED: f32 = 10.0;
const FOOD_MASS_MIN: u32 = 2;
const FOOD_MASS_MAX: u32 = 4; // inclusive
const MIN_MASS_TO_SPLIT: u32 = 2 * START_MASS;
const MAX_CIRCLES: usize = 16;
const EAT_MASS_RATIO: f32 = 0.85;
const OVERLAP_PCT: f32 = 0.1;
const RECOMBINE_DELAY: Duration = Duration::from_secs(5);
const MAX_NAME_LEN: usize = 32;
const MOVE_EVERY: Duration = Duration::from_millis(50);
const SPAWN_FOOD_EVERY: Duration = Duration::from_millis(500);

#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq)]
pub struct DbVector2 {
    pub x: f32,
    pub y: f32,
}

#[spacetimedb::table(accessor = config, public)]
pub struct Config {
    #[primary_key]
    pub id: u32,
    pub world_size: u64,
}

#[spacetimedb::table(accessor = entity, public)]
#[derive(Clone, Debug)]
pub struct Entity {
    #[primary_key]
    #[auto_inc]
    pub entity_id: u32,
    pub position: DbVector2,
    pub mass: u32,
}

#[spacetimedb::table(accessor = circle, public)]
#[derive(Clone, Debug)]
pub struct Circle {
    #[primary_key]
    pub entity_id: u32,
    #[index(btree)]
    pub player_id: u32,
    pub direction: DbVector2,
    pub speed: f32,
    pub last_split_time: Timestamp,
}

#[spacetimedb::table(accessor = player, public)]
#[derive(Clone, Debug)]
pub struct Player {
    #[primary_key]
    pub identity: Identity,
    #[unique]
    #[auto_inc]
    pub player_id: u32,
    pub name: String,
}

#[spacetimedb::table(accessor = food, public)]
pub struct Food {
    #[primary_key]
    pub entity_id: u32,
}

#[spacetimedb::table(accessor = move_all_players_timer, scheduled(move_all_players))]
pub struct MoveAllPlayersTimer {
    #[primary_key]
    #[auto_inc]
    pub scheduled_id: u64,
    pub scheduled_at: ScheduleAt,
}

#[spacetimedb::table(accessor = spawn_food_timer, scheduled(spawn_food))]
pub struct SpawnFoodTimer {
    #[primary_key]
    #[auto_inc]
    pub scheduled_id: u64,
    pub scheduled_at: ScheduleAt,
}

fn mass_to_radius(mass: u32) -> f32 {
    (mass as f32).sqrt()
}

fn max_move_speed(mass: u32) -> f32 {
    2.0 * START_SPEED / (1.0 + (mass as f32 / START_MASS as f32).sqrt())
}

fn overlapping(a: &Entity, b: &Entity) -> bool {
    let dx = a.position.x - b.position.x;
    let dy = a.position.y - b.position.y;
    let reach = (mass_to_radius(a.mass) + mass_to_radius(b.mass)) * (1.0 - OVERLAP_PCT);
    dx * dx + dy * dy <= reach * reach
}

fn world_size(ctx: &ReducerContext) -> Result<f32, String> {
    Ok(ctx.db.config().id().find(0).ok_or("config row missing")?.world_size as f32)
}

fn player_of(ctx: &ReducerContext) -> Result<Player, String> {
    ctx.db
        .player()
        .identity()
        .find(ctx.sender())
        .ok_or_else(|| "Player not found; call enter_game first".to_string())
}

fn spawn_circle(
    ctx: &ReducerContext,
    player_id: u32,
    mass: u32,
    position: DbVector2,
    at: Timestamp,
) -> Result<u32, String> {
    let entity = ctx.db.entity().try_insert(Entity { entity_id: 0, position, mass })?;
    ctx.db.circle().try_insert(Circle {
        entity_id: entity.entity_id,
        player_id,
        direction: DbVector2 { x: 0.0, y: 1.0 },
        speed: 0.0,
        last_split_time: at,
    })?;
    Ok(entity.entity_id)
}

fn spawn_initial_circle(ctx: &ReducerContext, player_id: u32) -> Result<u32, String> {
    let size = world_size(ctx)?;
    let r = mass_to_radius(START_MASS);
    let mut rng = ctx.rng();
    let position = DbVector2 { x: rng.gen_range(r..size - r), y: rng.gen_range(r..size - r) };
    spawn_circle(ctx, player_id, START_MASS, position, ctx.timestamp)
}

fn remove_circles_of(ctx: &ReducerContext, player_id: u32) {
    let ids: Vec<u32> = ctx.db.circle().player_id().filter(player_id).map(|c| c.entity_id).collect();
    for id in ids {
        ctx.db.entity().entity_id().delete(id);
        ctx.db.circle().entity_id().delete(id);
    }
}

#[spacetimedb::reducer(init)]
pub fn init(ctx: &ReducerContext) -> Result<(), String> {
    ctx.db.config().try_insert(Config { id: 0, world_size: WORLD_SIZE })?;
    ctx.db.move_all_players_timer().try_insert(MoveAllPlayersTimer {
        scheduled_id: 0,
        scheduled_at: ScheduleAt::Interval(MOVE_EVERY.into()),
    })?;
    ctx.db.spawn_food_timer().try_insert(SpawnFoodTimer {
        scheduled_id: 0,
        scheduled_at: ScheduleAt::Interval(SPAWN_FOOD_EVERY.into()),
    })?;
    Ok(())
}

#[spacetimedb::reducer(client_connected)]
pub fn connect(ctx: &ReducerContext) -> Result<(), String> {
    log::debug!("client connected: {}", ctx.sender());
    Ok(())
}

#[spacetimedb::reducer(client_disconnected)]
pub fn disconnect(ctx: &ReducerContext) -> Result<(), String> {
    if let Some(player) = ctx.db.player().identity().find(ctx.sender()) {
        remove_circles_of(ctx, player.player_id);
        ctx.db.player().identity().delete(ctx.sender());
    }
    Ok(())
}

#[spacetimedb::reducer]
pub fn enter_game(ctx: &ReducerContext, name: String) -> Result<(), String> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(format!("name must be 1 to {MAX_NAME_LEN} characters"));
    }
    if ctx.db.player().identity().find(ctx.sender()).is_some() {
        return Err("this identity already entered the game".to_string());
    }
    let player = ctx.db.player().try_insert(Player { identity: ctx.sender(), player_id: 0, name })?;
    spawn_initial_circle(ctx, player.player_id)?;
    Ok(())
}

#[spacetimedb::reducer]
pub fn update_player_input(ctx: &ReducerContext, direction: DbVector2) -> Result<(), String> {
    if !(direction.x.is_finite() && direction.y.is_finite()) {
        return Err("direction must be finite".to_string());
    }
    let player = player_of(ctx)?;
    let magnitude = (direction.x * direction.x + direction.y * direction.y).sqrt();
    let unit = if magnitude > 1e-6 {
        DbVector2 { x: direction.x / magnitude, y: direction.y / magnitude }
    } else {
        DbVector2 { x: 0.0, y: 0.0 }
    };
    let circles: Vec<Circle> = ctx.db.circle().player_id().filter(player.player_id).collect();
    for mut circle in circles {
        circle.direction = unit;
        circle.speed = magnitude.clamp(0.0, 1.0);
        ctx.db.circle().entity_id().update(circle);
    }
    Ok(())
}

#[spacetimedb::reducer]
pub fn player_split(ctx: &ReducerContext) -> Result<(), String> {
    let player = player_of(ctx)?;
    let circles: Vec<Circle> = ctx.db.circle().player_id().filter(player.player_id).collect();
    let mut count = circles.len();
    for mut circle in circles {
        if count >= MAX_CIRCLES {
            break;
        }
        let mut entity = ctx.db.entity().entity_id().find(circle.entity_id).ok_or("circle has no entity")?;
        if entity.mass < MIN_MASS_TO_SPLIT {
            continue;
        }
        let half = entity.mass / 2;
        let position = DbVector2 {
            x: entity.position.x + circle.direction.x,
            y: entity.position.y + circle.direction.y,
        };
        spawn_circle(ctx, player.player_id, half, position, ctx.timestamp)?;
        entity.mass -= half;
        circle.last_split_time = ctx.timestamp;
        ctx.db.entity().entity_id().update(entity);
        ctx.db.circle().entity_id().update(circle);
        count += 1;
    }
    Ok(())
}

#[spacetimedb::reducer]
pub fn respawn(ctx: &ReducerContext) -> Result<(), String> {
    let player = player_of(ctx)?;
    if ctx.db.circle().player_id().filter(player.player_id).next().is_some() {
        return Err(format!("Player {} already has a circle", player.player_id));
    }
    spawn_initial_circle(ctx, player.player_id)?;
    Ok(())
}

#[spacetimedb::reducer]
pub fn suicide(ctx: &ReducerContext) -> Result<(), String> {
    let player = player_of(ctx)?;
    remove_circles_of(ctx, player.player_id);
    Ok(())
}

#[spacetimedb::reducer]
pub fn spawn_food(ctx: &ReducerContext, _timer: SpawnFoodTimer) -> Result<(), String> {
    if ctx.db.player().count() == 0 {
        return Ok(());
    }
    let size = world_size(ctx)?;
    let mut rng = ctx.rng();
    let mut food_count = ctx.db.food().count();
    while food_count < TARGET_FOOD_COUNT {
        let mass = rng.gen_range(FOOD_MASS_MIN..=FOOD_MASS_MAX);
        let r = mass_to_radius(mass);
        let position = DbVector2 { x: rng.gen_range(r..size - r), y: rng.gen_range(r..size - r) };
        let entity = ctx.db.entity().try_insert(Entity { entity_id: 0, position, mass })?;
        ctx.db.food().try_insert(Food { entity_id: entity.entity_id })?;
        food_count += 1;
    }
    Ok(())
}

#[spacetimedb::reducer]
pub fn move_all_players(ctx: &ReducerContext, _timer: MoveAllPlayersTimer) -> Result<(), String> {
    let size = world_size(ctx)?;

    // 1. move every circle along its direction, clamped inside the world
    let mut circles: Vec<Circle> = ctx.db.circle().iter().collect();
    circles.sort_by_key(|c| c.entity_id);
    for circle in &circles {
        let Some(mut entity) = ctx.db.entity().entity_id().find(circle.entity_id) else { continue };
        let r = mass_to_radius(entity.mass);
        let step = circle.speed * max_move_speed(entity.mass);
        let x = (entity.position.x + circle.direction.x * step).clamp(r, size - r);
        let y = (entity.position.y + circle.direction.y * step).clamp(r, size - r);
        if x != entity.position.x || y != entity.position.y {
            entity.position = DbVector2 { x, y };
            ctx.db.entity().entity_id().update(entity);
        }
    }

    // 2. in entity-id order, each surviving circle eats overlapping food and smaller foreign circles
    for circle in &circles {
        if ctx.db.circle().entity_id().find(circle.entity_id).is_none() {
            continue; // eaten earlier in this tick
        }
        let Some(mut me) = ctx.db.entity().entity_id().find(circle.entity_id) else { continue };
        let others: Vec<Entity> = ctx.db.entity().iter().filter(|e| e.entity_id != me.entity_id).collect();
        let mut eaten = 0;
        for other in others {
            if ctx.db.entity().entity_id().find(other.entity_id).is_none() || !overlapping(&me, &other) {
                continue;
            }
            if ctx.db.food().entity_id().find(other.entity_id).is_some() {
                ctx.db.food().entity_id().delete(other.entity_id);
                ctx.db.entity().entity_id().delete(other.entity_id);
                eaten += other.mass;
            } else if let Some(other_circle) = ctx.db.circle().entity_id().find(other.entity_id) {
                if other_circle.player_id != circle.player_id
                    && (other.mass as f32) < EAT_MASS_RATIO * me.mass as f32
                {
                    ctx.db.circle().entity_id().delete(other.entity_id);
                    ctx.db.entity().entity_id().delete(other.entity_id);
                    eaten += other.mass;
                }
            }
        }
        if eaten > 0 {
            me.mass += eaten;
            ctx.db.entity().entity_id().update(me);
        }
    }

    // 3. recombine a player's circles once RECOMBINE_DELAY passed since its latest split
    let mut by_player: HashMap<u32, Vec<Circle>> = HashMap::new();
    for circle in ctx.db.circle().iter() {
        by_player.entry(circle.player_id).or_default().push(circle);
    }
    for (_, circles) in by_player {
        if circles.len() < 2 {
            continue;
        }
        let latest = circles.iter().map(|c| c.last_split_time).max().unwrap();
        match ctx.timestamp.duration_since(latest) {
            Some(elapsed) if elapsed >= RECOMBINE_DELAY => {}
            _ => continue,
        }
        let entities: Vec<Entity> = circles
            .iter()
            .filter_map(|c| ctx.db.entity().entity_id().find(c.entity_id))
            .collect();
        let total: u32 = entities.iter().map(|e| e.mass).sum();
        let cx = entities.iter().map(|e| e.position.x * e.mass as f32).sum::<f32>() / total as f32;
        let cy = entities.iter().map(|e| e.position.y * e.mass as f32).sum::<f32>() / total as f32;
        let keep = entities
            .iter()
            .max_by(|a, b| a.mass.cmp(&b.mass).then(b.entity_id.cmp(&a.entity_id)))
            .unwrap()
            .entity_id;
        for e in &entities {
            if e.entity_id != keep {
                ctx.db.circle().entity_id().delete(e.entity_id);
                ctx.db.entity().entity_id().delete(e.entity_id);
            }
        }
        ctx.db.entity().entity_id().update(Entity {
            entity_id: keep,
            position: DbVector2 { x: cx, y: cy },
            mass: total,
        });
    }
    Ok(())
}
