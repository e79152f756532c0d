-- Messages are indexed for search in batches instead of one by one. FTS5 writes a new index
-- segment, and merges older ones, at every commit that indexed something: with the one or two
-- messages a turn commits at a time, about a third of the work of the turn's writes. A
-- message now waits in `search_pending` (its document number is taken at once, as before)
-- until the store indexes the waiting messages together (up to 2,000 per write): about once
-- a second, and always before a search, so a search still finds everything committed before
-- it.
CREATE TABLE search_pending (
    item_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

DROP TRIGGER items_search_insert;
DROP TRIGGER items_search_update;
DROP TRIGGER items_search_delete;

-- The JSON is checked when the message is indexed (what is not JSON is skipped then), so the
-- triggers do not parse it.
CREATE TRIGGER items_search_insert AFTER INSERT ON items
WHEN NEW.kind IN ('user_message', 'assistant_message') BEGIN
    INSERT INTO search_items (item_id, doc)
        SELECT NEW.id, key * 16777216 + next_doc FROM search_threads
        WHERE thread_id = NEW.thread_id AND next_doc < 16777216;
    UPDATE search_threads SET next_doc = next_doc + 1
        WHERE thread_id = NEW.thread_id AND next_doc < 16777216;
    INSERT INTO search_pending (item_id)
        SELECT item_id FROM search_items WHERE item_id = NEW.id;
END;
-- A replaced message leaves the index and waits to be indexed again with its new text.
CREATE TRIGGER items_search_update AFTER UPDATE OF data ON items
WHEN NEW.kind IN ('user_message', 'assistant_message') BEGIN
    DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_items WHERE item_id = NEW.id)
        AND NOT EXISTS (SELECT 1 FROM search_pending WHERE item_id = NEW.id);
    INSERT OR IGNORE INTO search_pending (item_id)
        SELECT item_id FROM search_items WHERE item_id = NEW.id;
END;
CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
    DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_items WHERE item_id = OLD.id)
        AND NOT EXISTS (SELECT 1 FROM search_pending WHERE item_id = OLD.id);
    DELETE FROM search_pending WHERE item_id = OLD.id;
    DELETE FROM search_items WHERE item_id = OLD.id;
END;
