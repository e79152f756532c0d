DROP TRIGGER items_changed ON items;
DROP TRIGGER threads_changed ON threads;
DROP FUNCTION chatkit_notify_changed();
