-- How many of the thread's oldest items a run left out of the model's input to fit the
-- agent's context budget (NULL: nothing was left out, or the run predates the budget).
ALTER TABLE runs ADD COLUMN context_dropped BIGINT;
