DROP TABLE announcements;
DROP TABLE room_mentions;
DROP TABLE room_messages;
DROP TABLE room_reads;
DROP TABLE room_members;
DROP TABLE rooms;
DROP TABLE notes;
