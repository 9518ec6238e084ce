-- The outbox's claims name their holder. A delivery worker draws an id at start and writes it
-- with each claim; it renews its claims while it sends and settles only the emails it still
-- holds, so a short lease (seconds, not minutes) can take over a dead worker's emails quickly
-- without a live but slow worker's email being claimed and sent by another.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
