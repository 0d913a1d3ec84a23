"""The schema, as the list of migrations that build it: version N is the first N steps.

One source for both engines: the steps are written in SQLite's words, and `migration_sql`
says them in PostgreSQL's (64-bit integers and floats everywhere, since Telegram's chat ids
need them, and an identity column where SQLite has its rowid). Never edit a step that has
shipped; add a new one at the end.
"""

from __future__ import annotations

import re

MIGRATIONS: tuple[str, ...] = (
    # v1: the first schema.
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        title TEXT,
        language TEXT,
        user_language TEXT,
        blocked_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE shipments (
        id INTEGER PRIMARY KEY,
        courier TEXT NOT NULL,
        code TEXT NOT NULL,
        carrier_id TEXT,
        registered INTEGER NOT NULL DEFAULT 0,
        status TEXT,
        substatus TEXT,
        latest_event_at TEXT,
        last_change_at TEXT,
        last_polled_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (courier, code)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        occurred_at TEXT,
        raw_time TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT '',
        substatus TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL,
        location TEXT NOT NULL DEFAULT '',
        seen_at TEXT NOT NULL,
        UNIQUE (shipment_id, fingerprint)
    );
    CREATE TABLE subscriptions (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
        label TEXT,
        added_by INTEGER,
        added_by_name TEXT,
        added_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, shipment_id)
    );
    CREATE INDEX subscriptions_by_shipment ON subscriptions(shipment_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        shipment_id INTEGER NOT NULL REFERENCES shipments(id) ON DELETE CASCADE,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        sent_at TEXT,
        failed_at TEXT,
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox(next_attempt_at)
        WHERE sent_at IS NULL AND failed_at IS NULL;
    """,
    # v2: API calls per day, for /stats.
    """
    CREATE TABLE api_usage (
        day TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        result TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, endpoint, result)
    );
    """,
    # v3: the tracking desk: per-chat preferences, mute and archive, delivery lifecycle.
    """
    ALTER TABLE chats ADD COLUMN notify_mode TEXT NOT NULL DEFAULT 'all';
    ALTER TABLE chats ADD COLUMN quiet_start TEXT;
    ALTER TABLE chats ADD COLUMN quiet_end TEXT;
    ALTER TABLE chats ADD COLUMN digest_time TEXT;
    ALTER TABLE chats ADD COLUMN digest_sent_day TEXT;
    ALTER TABLE subscriptions ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE subscriptions ADD COLUMN archived_at TEXT;
    ALTER TABLE shipments ADD COLUMN delivered_at TEXT;
    ALTER TABLE shipments ADD COLUMN refreshed_at TEXT;
    ALTER TABLE shipments ADD COLUMN rechecks_left INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE shipments ADD COLUMN next_recheck_at TEXT;
    UPDATE shipments SET delivered_at = last_change_at WHERE status = 'delivered';
    CREATE INDEX events_by_seen ON events(shipment_id, seen_at);
    """,
    # v4: what TrackingMore last said, in short, so unchanged answers are not parsed again.
    """
    ALTER TABLE shipments ADD COLUMN carrier_signature TEXT;
    """,
    # v5: what replicas sharing one database agree on. Only new tables: replicas of v4 keep
    # working beside it while an upgrade rolls through.
    """
    CREATE TABLE seen_updates (
        update_id INTEGER NOT NULL PRIMARY KEY,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX seen_updates_by_time ON seen_updates(seen_at);
    CREATE TABLE seen_pushes (
        key TEXT NOT NULL PRIMARY KEY,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX seen_pushes_by_time ON seen_pushes(seen_at);
    CREATE TABLE user_hits (
        user_id INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, window_start)
    );
    CREATE TABLE replicas (
        name TEXT NOT NULL PRIMARY KEY,
        role TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        seen_at TEXT NOT NULL
    );
    CREATE TABLE rate_slots (
        name TEXT NOT NULL PRIMARY KEY,
        next_at REAL NOT NULL
    );
    """,
    # v6: what TrackingMore says beside the status: the expected delivery date (ISO date),
    # who signed for it, the days in transit. Nullable columns: replicas of v5 ignore them.
    """
    ALTER TABLE shipments ADD COLUMN expected_delivery TEXT;
    ALTER TABLE shipments ADD COLUMN signed_by TEXT;
    ALTER TABLE shipments ADD COLUMN transit_days INTEGER;
    """,
    # v7: forum topics. A group's shipment belongs to the topic it was added in (NULL: the
    # General topic, or a group without topics); topic names as the bot last saw them. And
    # who added what, indexed: inline mode lists a user's shipments across every chat.
    """
    ALTER TABLE subscriptions ADD COLUMN thread_id INTEGER;
    CREATE INDEX subscriptions_by_adder ON subscriptions(added_by);
    CREATE TABLE forum_topics (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
        thread_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, thread_id)
    );
    """,
    # v8: the web desk: single-use login links and browser sessions, each bound to one chat
    # and one user; only hashes (SHA-256) of the link tokens and session ids are stored.
    """
    CREATE TABLE desk_links (
        token_hash TEXT NOT NULL PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        user_name TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
    );
    CREATE INDEX desk_links_by_expiry ON desk_links(expires_at);
    CREATE TABLE desk_sessions (
        id_hash TEXT NOT NULL PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        user_name TEXT,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    );
    CREATE INDEX desk_sessions_by_use ON desk_sessions(last_seen_at);
    """,
    # v9: when Telegram last said a forum topic is closed (NULL: open, as far as the bot
    # knows), so that its news goes straight to General instead of being refused first. A
    # topic seen closed before its name has an empty name.
    """
    ALTER TABLE forum_topics ADD COLUMN closed_at TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


_ROWID = re.compile(r"\bINTEGER PRIMARY KEY\b")
_INTEGER = re.compile(r"\bINTEGER\b")
_REAL = re.compile(r"\bREAL\b")


def migration_sql(version: int, engine: str) -> str:
    """Step `version` (1-based) in the words of `engine` ("sqlite" or "postgresql")."""
    sql = MIGRATIONS[version - 1]
    if engine == "sqlite":
        return sql
    sql = _ROWID.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    return _REAL.sub("DOUBLE PRECISION", _INTEGER.sub("BIGINT", sql))


def refuse_newer_schema(current: int) -> None:
    """Stop at open (either engine) on a database a newer postino has migrated."""
    if current > SCHEMA_VERSION:
        # Imported here: database imports nothing of schema, and schema stays plain data.
        from bot.storage.database import StorageOpenError

        raise StorageOpenError(
            f"the database has schema v{current}, newer than this postino knows "
            f"(v{SCHEMA_VERSION}): run the newer version, or restore a backup"
        )
