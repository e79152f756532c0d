//! The console bench's data: 100,000 threads and 1,000,000 items spread over 90 days, written
//! with multi-row INSERTs in transactions of a few hundred threads, so the migrations'
//! triggers (counters, last activity, the bookkeeping of SQLite's search index, whose waiting
//! messages the server indexes in batches) and Postgres' generated `tsvector` column do their
//! work row by row as they do in production.
//!
//! Rows are built from the same types the store writes: item JSON is a serialised
//! `ThreadItem` (or `ToolCallRecord`), times go through Diesel's `Timestamp`, ids carry the
//! server's prefixes and 16 hex digits. Everything comes from a seeded generator, so every
//! run writes the same data.

use chatkit_server::chatkit::records::ToolCallRecord;
use chatkit_server::chatkit::types::{
    AssistantMessageContent, AssistantMessageItem, InferenceOptions, ItemBody, ThreadItem,
    ThreadStatus, UserMessageContent, UserMessageItem,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use crate::rows::{
    Batch, Conn, NewAttachment, NewFeedback, NewInteraction, NewItem, NewRun, NewThread,
};

use crate::words::{RARE_WORD, RARE_WORD_THREADS, Rng, Vocabulary, Zipf};

/// What is seeded.
pub const THREADS: usize = 100_000;
pub const ITEMS: usize = 1_000_000;
pub const USERS: usize = 5_000;
/// Items of the thread whose transcript is timed.
pub const BIG_THREAD_ITEMS: usize = 500;
/// Days the threads' activity spreads over, ending now.
pub const DAYS: i64 = 90;
/// Agents besides the default one, and the share of threads of each (default first).
const AGENTS: [(&str, &str); 4] = [
    ("support", "Support"),
    ("billing", "Billing"),
    ("onboarding", "Onboarding"),
    ("returns", "Returns"),
];
const AGENT_WEIGHTS: [u64; 5] = [40, 25, 15, 12, 8];
/// Threads written per transaction.
const THREADS_PER_TX: usize = 500;

/// Shares of threads with a flag, in thousandths.
const PENDING_FORM: u64 = 15;
const ANSWERED_FORM: u64 = 20;
const NEGATIVE: u64 = 30;
const POSITIVE: u64 = 60;
const FAILED_RUN: u64 = 20;

/// What was seeded, for choosing the requests and reading their answers.
pub struct Seeded {
    pub agents: Vec<String>,
    /// Threads of each agent, in the order of `agents`.
    pub agent_threads: Vec<usize>,
    /// Users by how many threads they have, most first.
    pub users: Vec<(String, usize)>,
    pub big_thread: String,
    pub items: usize,
    pub runs: usize,
    pub negative_threads: usize,
    pub pending_threads: usize,
    pub failed_threads: usize,
    /// Messages with the common word, and with both of the two words.
    pub common_messages: usize,
    pub two_word_messages: usize,
    /// The seeded "now": every time is before it.
    pub now: DateTime<Utc>,
}

/// Seeds everything into the database the server at `db_url` migrated, in account
/// `account_id` whose default agent is `default_agent`.
pub fn seed(db_url: &str, account_id: &str, default_agent: &str) -> Seeded {
    let mut conn = Conn::open(db_url);
    let now = Utc::now();
    let mut rng = Rng::new(0x00c0_ffee);
    let vocabulary = Vocabulary::new();
    let user_pick = Zipf::new(USERS, 0.7);

    let mut agent_ids = vec![default_agent.to_owned()];
    for (slug, name) in AGENTS {
        let id = format!("agt_{slug}");
        conn.execute(&format!(
            "INSERT INTO agents (id, account_id, slug, name, enabled, created_at) \
             VALUES ('{id}', '{account_id}', '{slug}', '{name}', TRUE, '2026-01-01 00:00:00')"
        ));
        agent_ids.push(id);
    }

    let mut seeded = Seeded {
        agents: agent_ids.clone(),
        agent_threads: vec![0; agent_ids.len()],
        users: Vec::new(),
        big_thread: String::new(),
        items: 0,
        runs: 0,
        negative_threads: 0,
        pending_threads: 0,
        failed_threads: 0,
        common_messages: 0,
        two_word_messages: 0,
        now,
    };
    let mut user_threads = vec![0usize; USERS];
    let budgets = item_budgets(&mut rng, THREADS - 1, ITEMS - BIG_THREAD_ITEMS);
    // Some threads carry the rare word, spread over the whole list.
    let rare_every = (THREADS - 1) / RARE_WORD_THREADS;

    let mut batch = Batch::default();
    for (n, &budget) in budgets.iter().enumerate() {
        let user = user_pick.sample(&mut rng);
        user_threads[user] += 1;
        let agent = pick_weighted(&mut rng, &AGENT_WEIGHTS);
        seeded.agent_threads[agent] += 1;
        let scope = Owner {
            account_id,
            agent_id: &agent_ids[agent],
            user_id: user_name(user),
        };
        let rare = n % rare_every == rare_every / 2 && n / rare_every < RARE_WORD_THREADS;
        let facts = thread(&mut rng, &vocabulary, &mut batch, &scope, now, budget, rare);
        seeded.negative_threads += usize::from(facts.negative);
        seeded.pending_threads += usize::from(facts.pending);
        seeded.failed_threads += usize::from(facts.failed);
        if batch.threads.len() == THREADS_PER_TX {
            seeded.items += batch.items.len();
            seeded.runs += batch.runs.len();
            seeded.common_messages += batch.common;
            seeded.two_word_messages += batch.both;
            conn.write(&batch);
            batch = Batch::default();
        }
    }
    let owner = Owner {
        account_id,
        agent_id: default_agent,
        user_id: user_name(0),
    };
    user_threads[0] += 1;
    seeded.agent_threads[0] += 1;
    seeded.big_thread = big_thread(&mut rng, &vocabulary, &mut batch, &owner, now);
    seeded.pending_threads += 1;
    seeded.negative_threads += 1;
    seeded.failed_threads += 1;
    seeded.items += batch.items.len();
    seeded.runs += batch.runs.len();
    seeded.common_messages += batch.common;
    seeded.two_word_messages += batch.both;
    conn.write(&batch);

    let mut users: Vec<(String, usize)> = user_threads
        .into_iter()
        .enumerate()
        .filter(|(_, n)| *n > 0)
        .map(|(u, n)| (user_name(u), n))
        .collect();
    users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    seeded.users = users;
    seeded
}

/// Who a thread belongs to.
struct Owner<'a> {
    account_id: &'a str,
    agent_id: &'a str,
    user_id: String,
}

fn user_name(n: usize) -> String {
    format!("user-{n:05}")
}

/// `count` item counts between 2 and 18 that add up to `total`.
fn item_budgets(rng: &mut Rng, count: usize, total: usize) -> Vec<u8> {
    let mut budgets: Vec<u8> = (0..count).map(|_| 2 + rng.below(17) as u8).collect();
    let mut sum: usize = budgets.iter().map(|&b| usize::from(b)).sum();
    while sum != total {
        let i = rng.below(count as u64) as usize;
        if sum < total && budgets[i] < 18 {
            budgets[i] += 1;
            sum += 1;
        } else if sum > total && budgets[i] > 2 {
            budgets[i] -= 1;
            sum -= 1;
        }
    }
    budgets
}

fn pick_weighted(rng: &mut Rng, weights: &[u64]) -> usize {
    let mut at = rng.below(weights.iter().sum());
    for (i, &w) in weights.iter().enumerate() {
        if at < w {
            return i;
        }
        at -= w;
    }
    weights.len() - 1
}

fn id(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}_{:016x}", rng.next())
}

fn db_time(micros: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .expect("time in range")
        .naive_utc()
}

fn item_row(item: &ThreadItem, visibility: &str, status: Option<&str>) -> NewItem {
    NewItem {
        id: item.id.clone(),
        thread_id: item.thread_id.clone(),
        kind: item.body.type_name().to_owned(),
        visibility: visibility.to_owned(),
        status: status.map(str::to_owned),
        created_at: item.created_at.naive_utc(),
        data: serde_json::to_string(item).expect("item JSON"),
    }
}

/// A ChatKit item from its JSON (for the rarer kinds, written as the protocol spells them).
fn parse_item(value: Value) -> ThreadItem {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value}"))
}

/// What one thread got.
struct ThreadFacts {
    negative: bool,
    pending: bool,
    failed: bool,
}

/// One thread of `budget` items: turns of a user message, sometimes a tool call, and the
/// assistant's answer (with its run), sometimes a widget; some threads end with a form that
/// waits, some have feedback or a failed run.
fn thread(
    rng: &mut Rng,
    vocabulary: &Vocabulary,
    batch: &mut Batch,
    owner: &Owner,
    now: DateTime<Utc>,
    budget: u8,
    rare: bool,
) -> ThreadFacts {
    let span = DAYS * 86_400_000_000;
    let mut at = now.timestamp_micros() - 3_600_000_000 - rng.below(span as u64) as i64;
    let thread_id = id(rng, "thr");
    let titled = rng.below(100) < 80;
    let title = titled.then(|| vocabulary.title(rng));
    push_thread(batch, &thread_id, owner, title, at);

    let flags = |rng: &mut Rng, share: u64| rng.below(1000) < share;
    let facts = ThreadFacts {
        pending: flags(rng, PENDING_FORM),
        negative: flags(rng, NEGATIVE),
        failed: flags(rng, FAILED_RUN),
    };
    let answered_form = flags(rng, ANSWERED_FORM);
    let positive = flags(rng, POSITIVE);
    let budget = usize::from(budget);
    // The last item is the waiting form when there is one.
    let messages = if facts.pending { budget - 1 } else { budget };
    let mut assistant_ids = Vec::new();
    let mut count = 0;
    let mut planted = !rare;
    while count < messages {
        at += 2_000_000 + rng.below(60_000_000) as i64;
        let mut text = vocabulary.sentence(rng, 4, 25);
        if !planted {
            text.push(' ');
            text.push_str(RARE_WORD);
            planted = true;
        }
        push_user_message(rng, batch, &thread_id, at, text);
        count += 1;
        if count == messages {
            break;
        }
        let run_start = at + 300_000;
        if rng.below(100) < 15 && count + 1 < messages {
            at += 800_000 + rng.below(3_000_000) as i64;
            push_tool_call(rng, batch, &thread_id, at, vocabulary);
            count += 1;
        }
        at += 1_000_000 + rng.below(15_000_000) as i64;
        let text = vocabulary.sentence(rng, 10, 60);
        assistant_ids.push(push_assistant_message(rng, batch, &thread_id, at, text));
        push_run(rng, batch, &thread_id, run_start, at, "completed");
        count += 1;
        // A form the user answered, and the conversation went on.
        if count < messages && (rng.below(100) < 4 || (answered_form && count + 1 == messages)) {
            at += 500_000;
            push_form(rng, batch, &thread_id, at, true);
            count += 1;
        }
    }
    if facts.pending {
        at += 1_000_000;
        push_form(rng, batch, &thread_id, at, false);
    }
    if facts.failed {
        push_run(
            rng,
            batch,
            &thread_id,
            at + 1_000_000,
            at + 31_000_000,
            "failed",
        );
    }
    let feedback_on =
        |rng: &mut Rng| assistant_ids[rng.below(assistant_ids.len() as u64) as usize].clone();
    let mut facts = facts;
    if assistant_ids.is_empty() {
        facts.negative = false;
    } else {
        if facts.negative {
            let item = feedback_on(rng);
            push_feedback(batch, &thread_id, owner, &item, "negative", at + 5_000_000);
        }
        if positive {
            let item = feedback_on(rng);
            if !facts.negative || batch.feedback.last().is_none_or(|f| f.item_id != item) {
                push_feedback(batch, &thread_id, owner, &item, "positive", at + 6_000_000);
            }
        }
    }
    facts
}

fn push_thread(batch: &mut Batch, id: &str, owner: &Owner, title: Option<String>, at: i64) {
    batch.threads.push(NewThread {
        id: id.to_owned(),
        account_id: owner.account_id.to_owned(),
        agent_id: owner.agent_id.to_owned(),
        user_id: owner.user_id.clone(),
        title,
        status: serde_json::to_string(&ThreadStatus::Active).expect("status JSON"),
        allowed_image_domains: None,
        metadata: "{}".to_owned(),
        created_at: db_time(at),
        updated_at: db_time(at),
    });
}

fn push_user_message(rng: &mut Rng, batch: &mut Batch, thread_id: &str, at: i64, text: String) {
    batch.tally(&text);
    let item = ThreadItem {
        id: id(rng, "msg"),
        thread_id: thread_id.to_owned(),
        created_at: db_time(at).and_utc(),
        body: ItemBody::UserMessage(UserMessageItem {
            content: vec![UserMessageContent::InputText { text }],
            attachments: Vec::new(),
            quoted_text: None,
            inference_options: InferenceOptions::default(),
        }),
    };
    batch.items.push(item_row(&item, "visible", None));
}

fn push_assistant_message(
    rng: &mut Rng,
    batch: &mut Batch,
    thread_id: &str,
    at: i64,
    text: String,
) -> String {
    batch.tally(&text);
    let item = ThreadItem {
        id: id(rng, "msg"),
        thread_id: thread_id.to_owned(),
        created_at: db_time(at).and_utc(),
        body: ItemBody::AssistantMessage(AssistantMessageItem {
            content: vec![AssistantMessageContent::new(text)],
        }),
    };
    batch.items.push(item_row(&item, "visible", None));
    item.id
}

/// A tool call record as the agent keeps it (model-only).
fn push_tool_call(
    rng: &mut Rng,
    batch: &mut Batch,
    thread_id: &str,
    at: i64,
    vocabulary: &Vocabulary,
) {
    let record = ToolCallRecord {
        id: id(rng, "tc"),
        thread_id: thread_id.to_owned(),
        created_at: db_time(at).and_utc(),
        call_id: format!("call_{:016x}", rng.next()),
        name: "lookup_order".to_owned(),
        arguments: json!({"order": format!("A-{}", rng.below(100_000))}).to_string(),
        output: json!({"status": "shipped", "note": vocabulary.sentence(rng, 3, 10)}).to_string(),
        is_error: false,
        content: None,
        duration_ms: 20 + rng.below(800),
    };
    batch.items.push(NewItem {
        id: record.id.clone(),
        thread_id: record.thread_id.clone(),
        kind: "tool_call".to_owned(),
        visibility: "model_only".to_owned(),
        status: Some("ok".to_owned()),
        created_at: record.created_at.naive_utc(),
        data: serde_json::to_string(&record).expect("record JSON"),
    });
}

fn push_run(rng: &mut Rng, batch: &mut Batch, thread_id: &str, start: i64, end: i64, status: &str) {
    let failed = status == "failed";
    batch.runs.push(NewRun {
        id: id(rng, "run"),
        thread_id: thread_id.to_owned(),
        status: status.to_owned(),
        model: Some("gpt-4.1-mini".to_owned()),
        prompt_tokens: 200 + rng.below(3_000) as i64,
        completion_tokens: 20 + rng.below(600) as i64,
        started_at: db_time(start),
        finished_at: Some(db_time(end)),
        error: failed.then(|| "the model endpoint did not answer in time".to_owned()),
        partial_text: failed.then(|| "Let me check that order for".to_owned()),
    });
}

/// The form the agent asks with (a widget item) and its interaction row.
fn push_form(rng: &mut Rng, batch: &mut Batch, thread_id: &str, at: i64, answered: bool) {
    let interaction = id(rng, "hi");
    let spec = json!({"title": "Delivery details", "description": "I need a few details.",
        "fields": [{"name": "city", "label": "City", "type": "string", "required": true},
                   {"name": "notes", "type": "long_text"}]});
    let item = parse_item(json!({
        "id": id(rng, "msg"), "thread_id": thread_id,
        "created_at": db_time(at).and_utc().to_rfc3339(), "type": "widget",
        "widget": {"type": "Card", "children": [{"type": "Form",
            "onSubmitAction": {"type": "human.form_submit", "payload": {"__interaction": interaction}},
            "children": [{"type": "Text", "value": "Delivery details"},
                         {"type": "Input", "name": "city"},
                         {"type": "Button", "label": "Send", "submit": true}]}]},
        "copy_text": "Delivery details"
    }));
    batch.items.push(item_row(&item, "visible", None));
    let answered_at = answered.then(|| db_time(at + 40_000_000));
    batch.interactions.push(NewInteraction {
        id: interaction,
        thread_id: thread_id.to_owned(),
        run_id: batch.runs.last().map(|r| r.id.clone()),
        item_id: item.id,
        call_id: format!("call_{:016x}", rng.next()),
        tool_name: "request_human_input".to_owned(),
        arguments: spec.to_string(),
        kind: "form".to_owned(),
        schema: spec.to_string(),
        status: if answered { "answered" } else { "pending" }.to_owned(),
        answer: answered.then(|| json!({"city": "Oslo", "notes": ""}).to_string()),
        answered_by: answered.then(|| "user".to_owned()),
        details: None,
        created_at: db_time(at),
        answered_at,
        // Far ahead, so nothing expires while the bench runs.
        expires_at: db_time(at + 30 * 86_400_000_000),
    });
}

fn push_feedback(
    batch: &mut Batch,
    thread_id: &str,
    owner: &Owner,
    item_id: &str,
    kind: &str,
    at: i64,
) {
    batch.feedback.push(NewFeedback {
        item_id: item_id.to_owned(),
        thread_id: thread_id.to_owned(),
        user_id: owner.user_id.clone(),
        kind: kind.to_owned(),
        created_at: db_time(at),
    });
}

/// The thread whose transcript is timed: [`BIG_THREAD_ITEMS`] items of every kind a
/// transcript shows (Markdown answers, tool calls, widgets, client tool calls, tasks, hidden
/// context, forms waiting and answered), with runs (two failed), feedback and attachments.
fn big_thread(
    rng: &mut Rng,
    vocabulary: &Vocabulary,
    batch: &mut Batch,
    owner: &Owner,
    now: DateTime<Utc>,
) -> String {
    let thread_id = id(rng, "thr");
    let mut at = now.timestamp_micros() - 2 * 86_400_000_000;
    push_thread(
        batch,
        &thread_id,
        owner,
        Some("Order A-1001 arrived damaged".into()),
        at,
    );
    let start = batch.items.len();
    let mut turn = 0;
    while batch.items.len() - start < BIG_THREAD_ITEMS - 1 {
        turn += 1;
        at += 5_000_000;
        let text = vocabulary.sentence(rng, 6, 30);
        push_user_message(rng, batch, &thread_id, at, text);
        let run_start = at + 300_000;
        at += 2_000_000;
        match turn % 10 {
            1 | 5 => push_tool_call(rng, batch, &thread_id, at, vocabulary),
            3 => {
                let item = parse_item(json!({
                    "id": id(rng, "msg"), "thread_id": thread_id,
                    "created_at": db_time(at).and_utc().to_rfc3339(), "type": "client_tool_call",
                    "status": "completed", "call_id": format!("call_{turn}"), "name": "get_selection",
                    "arguments": {"what": "text"}, "output": {"text": vocabulary.sentence(rng, 3, 8)}
                }));
                batch
                    .items
                    .push(item_row(&item, "visible", Some("completed")));
            }
            7 => {
                let item = parse_item(json!({
                    "id": id(rng, "tsk"), "thread_id": thread_id,
                    "created_at": db_time(at).and_utc().to_rfc3339(), "type": "task",
                    "task": {"type": "custom", "title": "Checked the order history",
                             "content": vocabulary.sentence(rng, 5, 15)}
                }));
                batch.items.push(item_row(&item, "visible", None));
            }
            9 => {
                let item = parse_item(json!({
                    "id": id(rng, "msg"), "thread_id": thread_id,
                    "created_at": db_time(at).and_utc().to_rfc3339(), "type": "hidden_context_item",
                    "content": {"page": "/orders/A-1001", "note": vocabulary.sentence(rng, 3, 8)}
                }));
                batch.items.push(item_row(&item, "hidden", None));
            }
            _ => {}
        }
        at += 3_000_000;
        let markdown = format!(
            "{}\n\n- **{}**: {}\n- `A-{}` {}\n\n[Order page](https://example.com/orders/{turn})",
            vocabulary.sentence(rng, 10, 40),
            vocabulary.sentence(rng, 1, 2),
            vocabulary.sentence(rng, 5, 12),
            rng.below(10_000),
            vocabulary.sentence(rng, 4, 10),
        );
        let answer = push_assistant_message(rng, batch, &thread_id, at, markdown);
        let failed = turn % 40 == 20;
        push_run(
            rng,
            batch,
            &thread_id,
            run_start,
            at,
            if failed { "failed" } else { "completed" },
        );
        if turn % 8 == 4 {
            let kind = if turn % 16 == 4 {
                "negative"
            } else {
                "positive"
            };
            push_feedback(batch, &thread_id, owner, &answer, kind, at + 9_000_000);
        }
        if turn % 6 == 2 {
            at += 500_000;
            let widget = parse_item(json!({
                "id": id(rng, "msg"), "thread_id": thread_id,
                "created_at": db_time(at).and_utc().to_rfc3339(), "type": "widget",
                "widget": {"type": "Card", "children": [
                    {"type": "Title", "value": format!("Order A-{}", 1000 + turn)},
                    {"type": "Text", "value": vocabulary.sentence(rng, 5, 12)},
                    {"type": "Button", "label": "Track", "onClickAction": {"type": "track", "payload": {"n": turn}}}]},
                "copy_text": "Order status"
            }));
            batch.items.push(item_row(&widget, "visible", None));
        }
        if turn % 25 == 12 {
            at += 500_000;
            push_form(rng, batch, &thread_id, at, true);
        }
    }
    batch.items.truncate(start + BIG_THREAD_ITEMS - 1);
    at += 1_000_000;
    push_form(rng, batch, &thread_id, at, false);
    // Rows that point at items cut off above go too.
    let kept: std::collections::HashSet<String> =
        batch.items[start..].iter().map(|i| i.id.clone()).collect();
    batch
        .feedback
        .retain(|f| f.thread_id != thread_id || kept.contains(&f.item_id));
    batch
        .interactions
        .retain(|i| i.thread_id != thread_id || kept.contains(&i.item_id));
    for (n, mime) in ["image/png", "application/pdf", "text/plain"]
        .iter()
        .enumerate()
    {
        batch.attachments.push(NewAttachment {
            id: id(rng, "atc"),
            account_id: owner.account_id.to_owned(),
            agent_id: owner.agent_id.to_owned(),
            user_id: owner.user_id.clone(),
            thread_id: Some(thread_id.clone()),
            name: format!("photo-{n}.{}", mime.rsplit('/').next().unwrap_or("bin")),
            mime_type: (*mime).to_owned(),
            size: 20_000 + 1_000 * n as i64,
            sha256: Some(format!(
                "{:016x}{:016x}{:016x}{:016x}",
                rng.next(),
                rng.next(),
                rng.next(),
                rng.next()
            )),
            storage_key: Some(format!("bench/{n}")),
            state: "uploaded".to_owned(),
            created_at: db_time(at - 60_000_000),
        });
    }
    thread_id
}
