DROP TABLE webhook_deliveries;
ALTER TABLE agents DROP COLUMN human_webhook_url;
