-- A booking's reference (booking_reference(id): "BR-" and the 60 random bits
-- of its id in base32) stays derived from the id, but is no longer a stored
-- column. The generated column cost a plpgsql call on every insert and every
-- update of a booking, and its unique index compared text: together about
-- 10 of the 25 µs Postgres took to write a hold (bench/RESULTS.md,
-- 2026-12-05). Its uniqueness is now an index on the 60 bits themselves, a
-- bigint (the same refusal: two ids whose references would clash cannot both
-- be stored). Support finds a booking by its reference with
--   SELECT * FROM bookings WHERE booking_reference_bits(id) = booking_reference_parse('BR-7KQD-M2XH-9TFA');
ALTER TABLE bookings DROP COLUMN reference;

-- booking_reference_bits is the number a reference encodes: the last 15 hex
-- digits of the id. A plain SQL expression, inlined where it is used.
CREATE FUNCTION booking_reference_bits(id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ('x' || substr(replace(id::text, '-', ''), 18, 15))::bit(60)::bigint
$$;

CREATE UNIQUE INDEX bookings_reference_key ON bookings (booking_reference_bits(id));

-- booking_reference_parse reads a reference back into its bits (any case,
-- dashes anywhere); NULL when it is not one.
CREATE FUNCTION booking_reference_parse(ref text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    s text := replace(upper(ref), '-', '');
    bits bigint := 0;
    d int;
BEGIN
    IF length(s) <> 14 OR left(s, 2) <> 'BR' THEN
        RETURN NULL;
    END IF;
    FOR i IN 3..14 LOOP
        d := strpos(alphabet, substr(s, i, 1)) - 1;
        IF d < 0 THEN
            RETURN NULL;
        END IF;
        bits := (bits << 5) | d;
    END LOOP;
    RETURN bits;
END;
$$;

-- No query reads holds by their deadline (Redis expires them; the sweeper
-- and the relay write the outcome by id), so this index was only written: once
-- per hold.
DROP INDEX bookings_expires_idx;
