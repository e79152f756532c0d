DROP INDEX feedback_user_review;
DROP INDEX feedback_review;
DROP INDEX attachments_agent_created;
DROP INDEX attachments_user_created;
DROP INDEX attachments_created;
