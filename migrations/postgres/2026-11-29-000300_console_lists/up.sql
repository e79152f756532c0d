-- The console's attachment and feedback lists read these in list order, so a page costs the
-- same however deep it is and whichever of the common filters is set.

-- Attachments, newest first: all of them, or of one user, or of one agent. (Orphans use
-- attachments_unused.)
CREATE INDEX attachments_created ON attachments (created_at, id);
CREATE INDEX attachments_user_created ON attachments (user_id, created_at, id);
CREATE INDEX attachments_agent_created ON attachments (agent_id, created_at, id);

-- Feedback, negative first ('negative' < 'positive') and then newest: all of it, or of one
-- user. The directions are the list's, so one forward scan reads a page.
CREATE INDEX feedback_review ON feedback (kind, created_at DESC, item_id DESC, user_id DESC);
CREATE INDEX feedback_user_review ON feedback (user_id, kind, created_at DESC, item_id DESC);
