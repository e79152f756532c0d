DROP INDEX human_interactions_queue;
DROP TABLE interaction_claims;
