-- Tokens, cost and runs per UTC day (of a run's start), account, user, agent and model, added as
-- each run ends. Daily quotas read it, so deleting threads (whose runs go with them) does not
-- give a day's tokens back; and it answers "what did each agent cost this month" without
-- reading every run. No foreign keys: the record outlives what it counts.
CREATE TABLE usage_days (
    day DATE NOT NULL,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    model TEXT NOT NULL,
    runs BIGINT NOT NULL DEFAULT 0,
    failed_runs BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    -- Millionths of a dollar, priced when each run ended (model_prices).
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account_id, user_id, agent_id, model)
);

INSERT INTO usage_days (day, account_id, user_id, agent_id, model, runs, failed_runs,
                        prompt_tokens, completion_tokens)
SELECT CAST(r.started_at AS DATE), t.account_id, t.user_id, t.agent_id, COALESCE(r.model, ''),
       COUNT(*), SUM(CASE WHEN r.status = 'failed' THEN 1 ELSE 0 END),
       CAST(SUM(r.prompt_tokens) AS BIGINT), CAST(SUM(r.completion_tokens) AS BIGINT)
FROM runs r JOIN threads t ON t.id = r.thread_id
WHERE r.status <> 'running'
GROUP BY 1, 2, 3, 4, 5;

-- Quotas sum a day of an account, or of one of its users: the key's prefix.

-- What a run cost and how long its first words took (the usage page's latency).
ALTER TABLE runs ADD COLUMN first_token_ms BIGINT;
ALTER TABLE runs ADD COLUMN cost_micros BIGINT;

-- Prices per model in millionths of a dollar per million tokens, set in the console. A run is
-- priced when it ends, so changing a price does not rewrite what past runs cost.
CREATE TABLE model_prices (
    model TEXT PRIMARY KEY NOT NULL,
    input_micros_per_mtok BIGINT NOT NULL,
    output_micros_per_mtok BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Requests and turns refused by a rate limit or quota, counted per day, user and limit, for
-- the usage page (the server adds them up in memory and writes them every few seconds).
CREATE TABLE limit_refusals (
    day DATE NOT NULL,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    limit_kind TEXT NOT NULL,
    refusals BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account_id, user_id, limit_kind)
);
