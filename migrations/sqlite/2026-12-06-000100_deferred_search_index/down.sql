-- Whatever still waits is indexed first; then the triggers index each message at once again.
INSERT INTO search_fts (rowid, body)
    SELECT s.doc, (SELECT group_concat(json_extract(part.value, '$.text'), ' ')
                   FROM json_each(i.data, '$.content') AS part)
    FROM search_pending p
    JOIN search_items s ON s.item_id = p.item_id
    JOIN items i ON i.id = p.item_id
    WHERE json_valid(i.data);

DROP TRIGGER items_search_insert;
DROP TRIGGER items_search_update;
DROP TRIGGER items_search_delete;
DROP TABLE search_pending;

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
