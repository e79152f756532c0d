DROP TABLE attachments;
DROP TABLE feedback;
DROP TABLE items;
DROP TABLE threads;
DROP TABLE agents;
DROP TABLE accounts;
