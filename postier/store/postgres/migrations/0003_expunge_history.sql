-- Schema version 3: when each expunge happened, so that the expunge history can be pruned after
-- [store] expunge_history (pruning raises mailboxes.vanished_floor). Expunges logged before this
-- migration count as happening now: they are kept for a whole retention period from here.
-- now() is evaluated once here, so existing rows need no rewrite.

ALTER TABLE expunged ADD COLUMN expunged_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX expunged_time ON expunged (expunged_at);
