DROP TABLE limit_refusals;
DROP TABLE model_prices;
ALTER TABLE runs DROP COLUMN cost_micros;
ALTER TABLE runs DROP COLUMN first_token_ms;
DROP TABLE usage_days;
