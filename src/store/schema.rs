//! Diesel table definitions, written against the portable column types both backends share
//! (the SQLite and Postgres migrations of the same name create identical shapes).

diesel::table! {
    accounts (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agents (id) {
        id -> Text,
        account_id -> Text,
        slug -> Text,
        name -> Text,
        model -> Nullable<Text>,
        instructions -> Nullable<Text>,
        enabled -> Bool,
        created_at -> Timestamp,
        llm_base_url -> Nullable<Text>,
        /// Sealed (`v1:...`, see `config::sealed`) once `CHATKIT_SECRET_KEY` is set.
        llm_api_key -> Nullable<Text>,
        models -> Nullable<Text>,
        temperature -> Nullable<Double>,
        client_tools -> Nullable<Text>,
        approval_tools -> Nullable<Text>,
        human_input -> Nullable<Bool>,
        form_timeout_secs -> Nullable<BigInt>,
        updated_at -> Timestamp,
        /// Where this agent's human-input webhooks go, instead of `CHATKIT_HUMAN_WEBHOOK_URL`.
        human_webhook_url -> Nullable<Text>,
        limits -> Nullable<Text>,
    }
}

diesel::table! {
    threads (id) {
        id -> Text,
        account_id -> Text,
        agent_id -> Text,
        user_id -> Text,
        title -> Nullable<Text>,
        status -> Text,
        allowed_image_domains -> Nullable<Text>,
        metadata -> Text,
        created_at -> Timestamp,
        /// Last activity: the newest item's time, or the last change of the thread itself.
        updated_at -> Timestamp,
        /// Counters kept current by triggers (migration `console_thread_search`).
        item_count -> BigInt,
        pending_interactions -> BigInt,
        negative_feedback -> BigInt,
        failed_runs -> BigInt,
    }
}

diesel::table! {
    items (id) {
        id -> Text,
        thread_id -> Text,
        kind -> Text,
        visibility -> Text,
        status -> Nullable<Text>,
        created_at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    feedback (item_id, user_id) {
        item_id -> Text,
        thread_id -> Text,
        user_id -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        account_id -> Text,
        agent_id -> Text,
        user_id -> Text,
        thread_id -> Nullable<Text>,
        name -> Text,
        mime_type -> Text,
        size -> BigInt,
        sha256 -> Nullable<Text>,
        storage_key -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(agents -> accounts (account_id));
diesel::joinable!(threads -> agents (agent_id));
diesel::joinable!(items -> threads (thread_id));
diesel::joinable!(feedback -> items (item_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    agents,
    threads,
    items,
    feedback,
    attachments
);

diesel::table! {
    runs (id) {
        id -> Text,
        thread_id -> Text,
        status -> Text,
        model -> Nullable<Text>,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        partial_text -> Nullable<Text>,
        first_token_ms -> Nullable<BigInt>,
        cost_micros -> Nullable<BigInt>,
        instance_id -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamp>,
        context_dropped -> Nullable<BigInt>,
    }
}

diesel::joinable!(runs -> threads (thread_id));
diesel::allow_tables_to_appear_in_same_query!(runs, threads);

diesel::table! {
    usage_days (day, account_id, user_id, agent_id, model) {
        day -> Date,
        account_id -> Text,
        user_id -> Text,
        agent_id -> Text,
        model -> Text,
        runs -> BigInt,
        failed_runs -> BigInt,
        prompt_tokens -> BigInt,
        completion_tokens -> BigInt,
        cost_micros -> BigInt,
    }
}

diesel::table! {
    model_prices (model) {
        model -> Text,
        input_micros_per_mtok -> BigInt,
        output_micros_per_mtok -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    limit_refusals (day, account_id, user_id, limit_kind) {
        day -> Date,
        account_id -> Text,
        user_id -> Text,
        limit_kind -> Text,
        refusals -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(usage_days, agents);

diesel::table! {
    human_interactions (id) {
        id -> Text,
        thread_id -> Text,
        run_id -> Nullable<Text>,
        item_id -> Text,
        call_id -> Text,
        tool_name -> Text,
        arguments -> Text,
        kind -> Text,
        schema -> Text,
        status -> Text,
        answer -> Nullable<Text>,
        answered_by -> Nullable<Text>,
        details -> Nullable<Text>,
        created_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    interaction_claims (interaction_id) {
        interaction_id -> Text,
        operator_id -> Text,
        operator_email -> Text,
        claimed_until -> Timestamp,
    }
}

diesel::joinable!(human_interactions -> threads (thread_id));
diesel::joinable!(interaction_claims -> human_interactions (interaction_id));
diesel::allow_tables_to_appear_in_same_query!(human_interactions, threads);
diesel::allow_tables_to_appear_in_same_query!(human_interactions, agents);
diesel::allow_tables_to_appear_in_same_query!(human_interactions, interaction_claims);
diesel::allow_tables_to_appear_in_same_query!(interaction_claims, threads);
diesel::allow_tables_to_appear_in_same_query!(interaction_claims, agents);

diesel::table! {
    operators (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    operator_sessions (id) {
        id -> Text,
        token_hash -> Text,
        operator_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        operator_id -> Nullable<Text>,
        operator_email -> Nullable<Text>,
        ip -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::joinable!(operator_sessions -> operators (operator_id));
diesel::allow_tables_to_appear_in_same_query!(operators, operator_sessions, audit_log);

diesel::table! {
    agent_mcp_servers (id) {
        id -> Text,
        agent_id -> Text,
        name -> Text,
        url -> Text,
        headers -> Nullable<Text>,
        allowed_tools -> Nullable<Text>,
        timeout_ms -> BigInt,
        protocol -> Text,
        structured_widgets -> Bool,
        elicitation_timeout_ms -> BigInt,
        enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(agent_mcp_servers -> agents (agent_id));
diesel::allow_tables_to_appear_in_same_query!(agent_mcp_servers, agents);

diesel::table! {
    /// The outbox of human-input webhooks (see `store::webhooks`).
    webhook_deliveries (id) {
        id -> Text,
        event -> Text,
        interaction_id -> Text,
        agent_id -> Text,
        url -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    parked_calls (token) {
        token -> Text,
        instance_id -> Text,
        heartbeat_at -> Timestamp,
        expires_at -> Timestamp,
        answer -> Nullable<Text>,
        result -> Nullable<Text>,
    }
}

diesel::table! {
    agent_changes (id) {
        id -> Integer,
        n -> BigInt,
    }
}
