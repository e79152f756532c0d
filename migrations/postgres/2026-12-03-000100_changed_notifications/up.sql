-- Cached reads (threads.get_by_id, threads.list, items.list) in every server process must learn
-- of each committed change to threads and items, whichever process or tool made it: a
-- trigger per statement sends 'changed' on the signals channel in the writing transaction
-- (delivered on commit; identical notifications of one transaction arrive once).
CREATE FUNCTION chatkit_notify_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('chatkit_signals', 'changed');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER threads_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON threads
    FOR EACH STATEMENT EXECUTE FUNCTION chatkit_notify_changed();

CREATE TRIGGER items_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON items
    FOR EACH STATEMENT EXECUTE FUNCTION chatkit_notify_changed();
