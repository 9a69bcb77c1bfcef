// One portable schema for both backends (BigInt ids, UTC Timestamp), written by
// hand: see diesel.toml.

diesel::table! {
    agents (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        active -> Bool,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        capacity -> Nullable<Integer>,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        agent_id -> Nullable<BigInt>,
        username -> Text,
        ip -> Text,
        success -> Bool,
        outcome -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        agent_id -> Nullable<BigInt>,
        state -> Text,
        expires_at -> Timestamp,
        login_id -> Nullable<Text>,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    visitors (id) {
        id -> BigInt,
        token_hash -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        page_url -> Nullable<Text>,
        referrer -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        timezone -> Nullable<Text>,
        identifier -> Nullable<Text>,
        verified -> Bool,
        attributes -> Text,
    }
}

diesel::table! {
    conversations (id) {
        id -> BigInt,
        visitor_id -> BigInt,
        agent_id -> Nullable<BigInt>,
        status -> Text,
        last_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        offline -> Bool,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        seq -> BigInt,
        sender -> Text,
        agent_id -> Nullable<BigInt>,
        client_id -> Nullable<Text>,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(login_attempts -> agents (agent_id));
diesel::joinable!(sessions -> agents (agent_id));
diesel::joinable!(conversations -> visitors (visitor_id));
diesel::joinable!(conversations -> agents (agent_id));
diesel::joinable!(messages -> conversations (conversation_id));

diesel::table! {
    node_leases (node_id) {
        node_id -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    notes (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        seq -> BigInt,
        agent_id -> Nullable<BigInt>,
        client_id -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rooms (id) {
        id -> BigInt,
        name -> Text,
        topic -> Nullable<Text>,
        everyone -> Bool,
        last_seq -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_members (room_id, agent_id) {
        room_id -> BigInt,
        agent_id -> BigInt,
    }
}

diesel::table! {
    room_reads (room_id, agent_id) {
        room_id -> BigInt,
        agent_id -> BigInt,
        read_seq -> BigInt,
    }
}

diesel::table! {
    room_messages (id) {
        id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        agent_id -> Nullable<BigInt>,
        agent_name -> Text,
        client_id -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_mentions (room_id, agent_id, seq) {
        room_id -> BigInt,
        agent_id -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    announcements (id) {
        id -> BigInt,
        body -> Text,
        author_id -> Nullable<BigInt>,
        author_name -> Text,
        audience -> Text,
        until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> BigInt,
        owner_id -> Nullable<BigInt>,
        shortcut -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    labels (id) {
        id -> BigInt,
        name -> Text,
        colour -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversation_labels (conversation_id, label_id) {
        conversation_id -> BigInt,
        label_id -> BigInt,
    }
}

diesel::table! {
    conversation_events (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        kind -> Text,
        agent_id -> Nullable<BigInt>,
        from_agent_id -> Nullable<BigInt>,
        at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        visitor_id -> BigInt,
        conversation_id -> Nullable<BigInt>,
        agent_id -> Nullable<BigInt>,
        uploaded_by_agent -> Bool,
        sha256 -> Text,
        name -> Text,
        mime -> Text,
        size -> BigInt,
        client_id -> Nullable<Text>,
        private -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        token_hash -> Text,
        hint -> Text,
        scopes -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        events -> Text,
        include_notes -> Bool,
        active -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> BigInt,
        kind -> Text,
        conversation_id -> Nullable<BigInt>,
        ref_id -> BigInt,
        at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_id -> BigInt,
        delivery_id -> Text,
        kind -> Text,
        conversation_id -> Nullable<BigInt>,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    visitor_tokens (token_hash) {
        token_hash -> Text,
        visitor_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    csat (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        episode -> Integer,
        rating -> Integer,
        comment -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    presence_events (id) {
        id -> BigInt,
        agent_id -> BigInt,
        status -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(conversation_labels -> labels (label_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(visitor_tokens -> visitors (visitor_id));
diesel::joinable!(notes -> conversations (conversation_id));
diesel::joinable!(room_members -> rooms (room_id));
diesel::joinable!(room_members -> agents (agent_id));
diesel::joinable!(room_messages -> rooms (room_id));

diesel::allow_tables_to_appear_in_same_query!(
    agents,
    login_attempts,
    sessions,
    settings,
    visitors,
    conversations,
    messages,
    notes,
    rooms,
    room_members,
    room_reads,
    room_messages,
    room_mentions,
    announcements,
    canned_responses,
    labels,
    conversation_labels,
    conversation_events,
    attachments,
    api_tokens,
    webhooks,
    webhook_events,
    webhook_deliveries,
    visitor_tokens,
    csat,
    presence_events,
);
