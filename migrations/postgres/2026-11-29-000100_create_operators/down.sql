DROP TABLE audit_log;
DROP TABLE operator_sessions;
DROP TABLE operators;
