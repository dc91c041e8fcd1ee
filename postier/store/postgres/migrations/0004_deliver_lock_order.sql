-- Schema version 4: postier_deliver locks in the global order every other writer uses —
-- mailbox rows by id, then account rows by id — instead of target order. Version 2 locked each
-- target's mailbox and then its account, target after target, in account order: against a
-- transaction that locks the same mailboxes in id order (copy, move, expunge-history pruning,
-- or another delivery whose mailboxes sort differently) that is a cycle, and PostgreSQL breaks
-- it by aborting one of them. Now every target's mailbox id is looked up first, then all of
-- them are locked in id order, then all the accounts in id order, and only then are the
-- targets stored, in mailbox id order; rows come back in that order, each with its index (idx)
-- into the arguments. Same arguments and result columns as version 2.

CREATE OR REPLACE FUNCTION postier_deliver(
    p_account   bigint[],   -- per target
    p_mailbox   bigint[],   -- per target: the mailbox id, or NULL to look up p_name
    p_name      text[],     -- per target: mailbox name (INBOX when it does not exist)
    p_prefix    bytea[],    -- per target: trace header fields before the shared body
    p_structure text[],     -- per target: MIME structure shifted by the prefix
    p_bits      integer[],  -- per target: system flags
    p_keywords  text[],     -- per target: keywords, space-separated
    p_flags     text[],     -- per target: the stored flags as a sorted JSON array
    p_sha       text, p_size bigint, p_data bytea, p_document text, p_summary text,
    p_date      timestamptz, p_offset integer, p_node text, p_channel text)
RETURNS TABLE (idx integer, message_id bigint, mailbox_id bigint, uid bigint, modseq bigint,
               uidvalidity bigint, error text)
LANGUAGE plpgsql AS $$
DECLARE
    v_count    integer := coalesce(array_length(p_account, 1), 0);
    v_targets  bigint[] := '{}';
    v_order    integer[];
    v_mailbox  bigint;
    v_blob     bigint;
    v_inserted boolean;
    v_size     bigint;
    v_quota    bigint;
    v_used     bigint;
    v_payload  text;
    v_pointer  bigint;
    i          integer;
BEGIN
    FOR i IN 1 .. v_count LOOP
        v_mailbox := p_mailbox[i];
        IF v_mailbox IS NULL THEN
            SELECT b.id INTO v_mailbox FROM mailboxes b
             WHERE b.account_id = p_account[i] AND b.name = p_name[i];
            IF v_mailbox IS NULL THEN
                SELECT b.id INTO v_mailbox FROM mailboxes b
                 WHERE b.account_id = p_account[i] AND b.name = 'INBOX';
            END IF;
        END IF;
        v_targets := v_targets || v_mailbox;  -- NULL when the account has no INBOX (gone)
    END LOOP;
    IF v_count > 1 THEN
        -- One target locks its mailbox and then its account below, already in order.
        PERFORM 1 FROM mailboxes b WHERE b.id = ANY(v_targets) ORDER BY b.id
            FOR NO KEY UPDATE;
        PERFORM 1 FROM accounts a WHERE a.id = ANY(p_account) ORDER BY a.id
            FOR NO KEY UPDATE;
    END IF;
    SELECT array_agg(t.i::integer ORDER BY t.mailbox, t.i) INTO v_order
      FROM unnest(v_targets) WITH ORDINALITY AS t(mailbox, i);
    FOREACH i IN ARRAY coalesce(v_order, '{}') LOOP
        idx := i;
        message_id := NULL; mailbox_id := NULL; uid := NULL; modseq := NULL;
        uidvalidity := NULL; error := NULL;
        BEGIN
            v_mailbox := v_targets[i];
            UPDATE mailboxes b SET uidnext = b.uidnext + 1, highest_modseq = b.highest_modseq + 1
             WHERE b.id = v_mailbox AND b.account_id = p_account[i]
            RETURNING b.uidvalidity, b.uidnext - 1, b.highest_modseq
                 INTO uidvalidity, uid, modseq;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the mailbox no longer exists' USING ERRCODE = 'PT404';
            END IF;
            v_size := octet_length(p_prefix[i]) + p_size;
            UPDATE accounts a SET used_bytes = a.used_bytes + v_size,
                                  message_count = a.message_count + 1
             WHERE a.id = p_account[i] RETURNING a.quota_bytes, a.used_bytes INTO v_quota, v_used;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the account no longer exists' USING ERRCODE = 'PT404';
            END IF;
            IF v_quota IS NOT NULL AND v_used > v_quota THEN
                RAISE EXCEPTION 'mailbox is full: the account is over its storage quota'
                      USING ERRCODE = 'PT507';
            END IF;
            INSERT INTO blobs AS b (sha256, size, refcount, data)
                 VALUES (p_sha, p_size, 1, p_data)
            ON CONFLICT (sha256) DO UPDATE SET refcount = b.refcount + 1
            RETURNING b.id, (b.xmax = 0) INTO v_blob, v_inserted;
            IF v_inserted THEN
                INSERT INTO blob_text (blob_id, document) VALUES (v_blob, p_document::tsvector);
            END IF;
            INSERT INTO messages (mailbox_id, uid, modseq, system_flags, keywords, internal_date,
                                  internal_offset, size, blob_id, header_prefix, structure,
                                  summary)
                 VALUES (v_mailbox, uid, modseq, p_bits[i], p_keywords[i], p_date, p_offset,
                         v_size, v_blob, p_prefix[i], p_structure[i], p_summary)
            RETURNING id INTO message_id;
            mailbox_id := v_mailbox;
            v_payload := json_build_object('n', p_node, 'c', json_build_array(json_build_object(
                'kind', 'MessageAdded', 'account', p_account[i], 'mailbox', v_mailbox,
                'uid', uid, 'modseq', modseq, 'flags', p_flags[i]::json)))::text;
            IF octet_length(v_payload) > 7900 THEN
                INSERT INTO change_overflow (payload) VALUES (v_payload) RETURNING id INTO v_pointer;
                v_payload := json_build_object('n', p_node, 'r', v_pointer)::text;
            END IF;
            PERFORM pg_notify(p_channel, v_payload);
        EXCEPTION WHEN SQLSTATE 'PT404' OR SQLSTATE 'PT507' THEN
            message_id := NULL; mailbox_id := NULL; uid := NULL; modseq := NULL;
            uidvalidity := NULL;
            error := SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
