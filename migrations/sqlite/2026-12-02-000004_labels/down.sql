DROP TABLE conversation_labels;
DROP TABLE labels;
