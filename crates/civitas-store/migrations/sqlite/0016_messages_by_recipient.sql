-- The account page lists the messages sent to its holder's phone and e-mail.
CREATE INDEX outbox_messages_recipient ON outbox_messages (recipient, id);
