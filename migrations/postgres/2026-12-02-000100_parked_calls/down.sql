DROP TABLE parked_calls;
