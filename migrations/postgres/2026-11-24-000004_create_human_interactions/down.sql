DROP TABLE human_interactions;
