ALTER TABLE agents DROP COLUMN capacity;
