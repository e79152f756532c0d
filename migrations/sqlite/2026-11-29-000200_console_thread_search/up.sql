-- What the console lists threads by: per-thread counters, last activity, and a full-text
-- index over titles and the text of user and assistant messages. Triggers keep all of it
-- current, whichever statement changes the rows (cascading deletes included), so no write
-- path of the store can forget it.

ALTER TABLE threads ADD COLUMN item_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN pending_interactions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN negative_feedback BIGINT NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN failed_runs BIGINT NOT NULL DEFAULT 0;

UPDATE threads SET
    item_count = (SELECT COUNT(*) FROM items WHERE items.thread_id = threads.id),
    pending_interactions = (SELECT COUNT(*) FROM human_interactions h
                            WHERE h.thread_id = threads.id AND h.status = 'pending'),
    negative_feedback = (SELECT COUNT(*) FROM feedback f
                         WHERE f.thread_id = threads.id AND f.kind = 'negative'),
    failed_runs = (SELECT COUNT(*) FROM runs r WHERE r.thread_id = threads.id AND r.status = 'failed'),
    updated_at = MAX(updated_at, COALESCE((SELECT MAX(created_at) FROM items
                                           WHERE items.thread_id = threads.id), updated_at));

-- Newest activity first, alone or within one user, one agent, or one flag (the flag indexes
-- are partial, so they hold only the threads that have it).
CREATE INDEX threads_activity ON threads (updated_at, id);
CREATE INDEX threads_user_activity ON threads (user_id, updated_at, id);
CREATE INDEX threads_agent_activity ON threads (agent_id, updated_at, id);
CREATE INDEX threads_pending_activity ON threads (updated_at, id) WHERE pending_interactions > 0;
CREATE INDEX threads_negative_activity ON threads (updated_at, id) WHERE negative_feedback > 0;
CREATE INDEX threads_failed_activity ON threads (updated_at, id) WHERE failed_runs > 0;
CREATE INDEX feedback_thread ON feedback (thread_id);

-- Last activity: the newest item's time (threads.save_thread sets it too).
CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN
    UPDATE threads SET item_count = item_count + 1, updated_at = MAX(updated_at, NEW.created_at)
    WHERE id = NEW.thread_id;
END;
CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN
    UPDATE threads SET item_count = item_count - 1 WHERE id = OLD.thread_id;
END;

CREATE TRIGGER feedback_count_insert AFTER INSERT ON feedback WHEN NEW.kind = 'negative' BEGIN
    UPDATE threads SET negative_feedback = negative_feedback + 1 WHERE id = NEW.thread_id;
END;
CREATE TRIGGER feedback_count_delete AFTER DELETE ON feedback WHEN OLD.kind = 'negative' BEGIN
    UPDATE threads SET negative_feedback = negative_feedback - 1 WHERE id = OLD.thread_id;
END;
CREATE TRIGGER feedback_count_update AFTER UPDATE OF kind ON feedback
WHEN (OLD.kind = 'negative') <> (NEW.kind = 'negative') BEGIN
    UPDATE threads SET negative_feedback = negative_feedback
        + CASE WHEN NEW.kind = 'negative' THEN 1 ELSE -1 END
    WHERE id = NEW.thread_id;
END;

CREATE TRIGGER runs_count_insert AFTER INSERT ON runs WHEN NEW.status = 'failed' BEGIN
    UPDATE threads SET failed_runs = failed_runs + 1 WHERE id = NEW.thread_id;
END;
CREATE TRIGGER runs_count_delete AFTER DELETE ON runs WHEN OLD.status = 'failed' BEGIN
    UPDATE threads SET failed_runs = failed_runs - 1 WHERE id = OLD.thread_id;
END;
CREATE TRIGGER runs_count_update AFTER UPDATE OF status ON runs
WHEN (OLD.status = 'failed') <> (NEW.status = 'failed') BEGIN
    UPDATE threads SET failed_runs = failed_runs
        + CASE WHEN NEW.status = 'failed' THEN 1 ELSE -1 END
    WHERE id = NEW.thread_id;
END;

CREATE TRIGGER interactions_count_insert AFTER INSERT ON human_interactions
WHEN NEW.status = 'pending' BEGIN
    UPDATE threads SET pending_interactions = pending_interactions + 1 WHERE id = NEW.thread_id;
END;
CREATE TRIGGER interactions_count_delete AFTER DELETE ON human_interactions
WHEN OLD.status = 'pending' BEGIN
    UPDATE threads SET pending_interactions = pending_interactions - 1 WHERE id = OLD.thread_id;
END;
CREATE TRIGGER interactions_count_update AFTER UPDATE OF status ON human_interactions
WHEN (OLD.status = 'pending') <> (NEW.status = 'pending') BEGIN
    UPDATE threads SET pending_interactions = pending_interactions
        + CASE WHEN NEW.status = 'pending' THEN 1 ELSE -1 END
    WHERE id = NEW.thread_id;
END;

-- Full-text search. One FTS5 document per title and per message; its rowid is the thread's
-- search key times 2^24 plus the document's number within the thread (0 for the title), so a
-- thread's documents form one rowid range: "does this thread match?" is one range-limited
-- lookup, and the threads of a set of hits are `rowid / 2^24` with no join. The key is an
-- INTEGER PRIMARY KEY (threads' own rowid could change on VACUUM); a thread numbers at most
-- 2^24 - 1 messages, later ones are not indexed.
CREATE TABLE search_threads (
    key INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL UNIQUE,
    next_doc INTEGER NOT NULL DEFAULT 1
);
-- Which document holds a message, to remove it when the message changes or goes.
CREATE TABLE search_items (
    item_id TEXT PRIMARY KEY NOT NULL,
    doc INTEGER NOT NULL
) WITHOUT ROWID;
-- Contentless: the text lives in items.data; only the index is kept.
CREATE VIRTUAL TABLE search_fts USING fts5 (
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER threads_search_insert AFTER INSERT ON threads BEGIN
    INSERT INTO search_threads (thread_id) VALUES (NEW.id);
    INSERT INTO search_fts (rowid, body)
        SELECT key * 16777216, NEW.title FROM search_threads
        WHERE thread_id = NEW.id AND NEW.title IS NOT NULL;
END;
CREATE TRIGGER threads_search_title AFTER UPDATE OF title ON threads
WHEN OLD.title IS NOT NEW.title BEGIN
    DELETE FROM search_fts
        WHERE rowid = (SELECT key * 16777216 FROM search_threads WHERE thread_id = NEW.id);
    INSERT INTO search_fts (rowid, body)
        SELECT key * 16777216, NEW.title FROM search_threads
        WHERE thread_id = NEW.id AND NEW.title IS NOT NULL;
END;
CREATE TRIGGER threads_search_delete AFTER DELETE ON threads BEGIN
    DELETE FROM search_fts
        WHERE rowid = (SELECT key * 16777216 FROM search_threads WHERE thread_id = OLD.id);
    DELETE FROM search_threads WHERE thread_id = OLD.id;
END;

-- A message's text: its content parts' `text`, space-separated.
CREATE TRIGGER items_search_insert AFTER INSERT ON items
WHEN NEW.kind IN ('user_message', 'assistant_message') AND json_valid(NEW.data) BEGIN
    INSERT INTO search_items (item_id, doc)
        SELECT NEW.id, key * 16777216 + next_doc FROM search_threads
        WHERE thread_id = NEW.thread_id AND next_doc < 16777216;
    UPDATE search_threads SET next_doc = next_doc + 1
        WHERE thread_id = NEW.thread_id AND next_doc < 16777216;
    INSERT INTO search_fts (rowid, body)
        SELECT doc, (SELECT group_concat(json_extract(part.value, '$.text'), ' ')
                     FROM json_each(NEW.data, '$.content') AS part)
        FROM search_items WHERE item_id = NEW.id;
END;
-- A replaced message is indexed again under its document number.
CREATE TRIGGER items_search_update AFTER UPDATE OF data ON items
WHEN NEW.kind IN ('user_message', 'assistant_message') AND json_valid(NEW.data) BEGIN
    DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_items WHERE item_id = NEW.id);
    INSERT INTO search_fts (rowid, body)
        SELECT doc, (SELECT group_concat(json_extract(part.value, '$.text'), ' ')
                     FROM json_each(NEW.data, '$.content') AS part)
        FROM search_items WHERE item_id = NEW.id;
END;
CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
    DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_items WHERE item_id = OLD.id);
    DELETE FROM search_items WHERE item_id = OLD.id;
END;

-- Backfill: every thread gets its key in list order, then titles and messages their documents.
INSERT INTO search_threads (thread_id, next_doc)
    SELECT t.id, 1 + MIN(16777215, (SELECT COUNT(*) FROM items i WHERE i.thread_id = t.id
        AND i.kind IN ('user_message', 'assistant_message') AND json_valid(i.data)))
    FROM threads t ORDER BY t.created_at, t.id;
INSERT INTO search_fts (rowid, body)
    SELECT s.key * 16777216, t.title FROM threads t JOIN search_threads s ON s.thread_id = t.id
    WHERE t.title IS NOT NULL;
INSERT INTO search_items (item_id, doc)
    SELECT id, key * 16777216 + n FROM (
        SELECT i.id, s.key,
               ROW_NUMBER() OVER (PARTITION BY i.thread_id ORDER BY i.created_at, i.id) AS n
        FROM items i JOIN search_threads s ON s.thread_id = i.thread_id
        WHERE i.kind IN ('user_message', 'assistant_message') AND json_valid(i.data)
    ) WHERE n < 16777216;
INSERT INTO search_fts (rowid, body)
    SELECT si.doc, (SELECT group_concat(json_extract(part.value, '$.text'), ' ')
                    FROM json_each(i.data, '$.content') AS part)
    FROM search_items si JOIN items i ON i.id = si.item_id;
