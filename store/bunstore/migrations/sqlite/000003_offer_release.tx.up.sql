-- Offers held until the customer is active (Options.HoldOffersUntilActive) have no
-- released_at yet; offers written before this version were released when created.
ALTER TABLE credit_offers ADD COLUMN released_at INTEGER;

--bun:split

UPDATE credit_offers SET released_at = created_at;
