-- Schema version 2: delivery in one statement. A message for N mailboxes costs one round trip
-- instead of a dozen: the function locks each target mailbox row, takes its UID and MODSEQ,
-- charges the quota, stores (or shares) the body, inserts the message and announces it, each
-- target in its own subtransaction so that one full mailbox fails alone (SQLSTATE PT404: no
-- such mailbox or account, PT507: over quota). The caller sorts the targets by account.

CREATE FUNCTION postier_deliver(
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
    v_mailbox  bigint;
    v_blob     bigint;
    v_inserted boolean;
    v_size     bigint;
    v_quota    bigint;
    v_used     bigint;
    v_payload  text;
    v_pointer  bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_account, 1), 0) LOOP
        idx := i;
        message_id := NULL; mailbox_id := NULL; uid := NULL; modseq := NULL;
        uidvalidity := NULL; error := NULL;
        BEGIN
            v_mailbox := p_mailbox[i];
            IF v_mailbox IS NULL THEN
                SELECT b.id INTO v_mailbox FROM mailboxes b
                 WHERE b.account_id = p_account[i] AND b.name = p_name[i];
                IF v_mailbox IS NULL THEN
                    SELECT b.id INTO v_mailbox FROM mailboxes b
                     WHERE b.account_id = p_account[i] AND b.name = 'INBOX';
                END IF;
            END IF;
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
