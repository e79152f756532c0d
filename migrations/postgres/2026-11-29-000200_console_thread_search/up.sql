-- What the console lists threads by: per-thread counters, last activity, and a full-text
-- index over titles and the text of user and assistant messages. Triggers keep the counters
-- current whichever statement changes the rows (cascading deletes included); the message
-- index is a generated column, so it cannot disagree with the text.

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
    updated_at = GREATEST(updated_at, (SELECT MAX(created_at) FROM items
                                       WHERE items.thread_id = threads.id));

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
CREATE FUNCTION console_count_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE threads SET item_count = item_count + 1,
                           updated_at = GREATEST(updated_at, NEW.created_at)
        WHERE id = NEW.thread_id;
    ELSE
        UPDATE threads SET item_count = item_count - 1 WHERE id = OLD.thread_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER items_count AFTER INSERT OR DELETE ON items
    FOR EACH ROW EXECUTE FUNCTION console_count_items();

-- The change of one counter of the thread when a row enters (+1) or leaves (-1) the counted
-- state: TG_ARGV[0] is the counter, TG_ARGV[1] the column and TG_ARGV[2] its counted value.
CREATE FUNCTION console_count_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was BOOLEAN := FALSE;
    now_in BOOLEAN := FALSE;
    thread TEXT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was := to_jsonb(OLD) ->> TG_ARGV[1] = TG_ARGV[2];
        thread := OLD.thread_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        now_in := to_jsonb(NEW) ->> TG_ARGV[1] = TG_ARGV[2];
        thread := NEW.thread_id;
    END IF;
    IF was <> now_in THEN
        EXECUTE format('UPDATE threads SET %1$I = %1$I + $1 WHERE id = $2', TG_ARGV[0])
            USING CASE WHEN now_in THEN 1 ELSE -1 END, thread;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER feedback_count AFTER INSERT OR DELETE OR UPDATE OF kind ON feedback
    FOR EACH ROW EXECUTE FUNCTION console_count_state('negative_feedback', 'kind', 'negative');
CREATE TRIGGER runs_count AFTER INSERT OR DELETE OR UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION console_count_state('failed_runs', 'status', 'failed');
CREATE TRIGGER interactions_count AFTER INSERT OR DELETE OR UPDATE OF status ON human_interactions
    FOR EACH ROW EXECUTE FUNCTION console_count_state('pending_interactions', 'status', 'pending');

-- Full-text search. Text is lower-cased, stripped of the accents of Latin letters and cut into
-- runs of letters and digits first, the way SQLite's unicode61 tokenizer (remove_diacritics)
-- sees it, so both databases match the same words; 'simple' then keeps every word unstemmed,
-- whatever the language. Queries are folded the same way before they get here (store::search).
-- The body calls built-in functions only, so it works whatever the search_path (a restore
-- runs with an empty one).
CREATE FUNCTION console_search_vector(body TEXT) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple', regexp_replace(translate(lower(coalesce(body, '')),
        'àáâãäåçèéêëìíîïðñòóôõöøùúûüýÿāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįıĵķĺļľŀłńņňōŏőŕŗřśŝşšţťŧũūŭůűųŵŷźżž',
        'aaaaaaceeeeiiiidnoooooouuuuyyaaaccccddeeeeegggghhiiiiijklllllnnnooorrrsssstttuuuuuuwyzzz'),
        '[^[:alnum:]]+', ' ', 'g'))
$$;

-- A message's text: its content parts' `text`, space-separated.
CREATE FUNCTION console_message_text(kind TEXT, data TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN kind IN ('user_message', 'assistant_message') THEN
        (SELECT string_agg(part #>> '{}', ' ')
         FROM jsonb_path_query(data::jsonb, '$.content[*].text') AS part)
    END
$$;

-- Stored, so a search reads each message's words instead of parsing its JSON again.
ALTER TABLE items ADD COLUMN search tsvector
    GENERATED ALWAYS AS (console_search_vector(console_message_text(kind, data))) STORED;
CREATE INDEX items_search ON items USING GIN (search);
CREATE INDEX threads_title_search ON threads USING GIN (console_search_vector(title));
