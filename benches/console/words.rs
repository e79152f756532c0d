//! Text for the console bench: a seeded generator and a vocabulary whose word frequencies
//! follow Zipf's law, as words in real conversations do, so a search meets both very common
//! and rare words. The first words are real ones of a support conversation, the rest made of
//! syllables; one word is planted in a known number of threads only.

/// A word in about one message in seven.
pub const COMMON_WORD: &str = "order";
/// Two words that each appear in a few percent of the messages, together in few.
pub const TWO_WORDS: &str = "refund delivery";
/// A word no generated text has, added to one message of [`RARE_WORD_THREADS`] threads.
pub const RARE_WORD: &str = "chargeback";
pub const RARE_WORD_THREADS: usize = 20;

/// Real words, most frequent first; synthetic ones follow up to [`WORDS`].
const REAL: &[&str] = &[
    "the",
    "to",
    "i",
    "you",
    "and",
    "a",
    "my",
    "is",
    "it",
    "for",
    "of",
    "can",
    "please",
    "on",
    "this",
    "order",
    "with",
    "not",
    "have",
    "account",
    "help",
    "what",
    "when",
    "was",
    "be",
    "in",
    "your",
    "how",
    "that",
    "we",
    "will",
    "but",
    "do",
    "me",
    "payment",
    "still",
    "need",
    "get",
    "just",
    "thanks",
    "refund",
    "time",
    "change",
    "email",
    "card",
    "app",
    "password",
    "shipping",
    "invoice",
    "number",
    "could",
    "there",
    "new",
    "problem",
    "again",
    "days",
    "update",
    "address",
    "item",
    "back",
    "delivery",
    "today",
    "price",
    "check",
    "return",
    "sent",
    "received",
    "working",
    "plan",
    "subscription",
    "error",
    "login",
    "phone",
    "tracking",
    "package",
    "store",
    "cancel",
    "week",
    "support",
    "charge",
    "shipment",
    "message",
    "page",
    "code",
    "link",
    "settings",
    "billing",
    "team",
    "issue",
    "screen",
    "discount",
    "coupon",
    "warranty",
    "size",
    "color",
    "exchange",
    "damaged",
    "missing",
];
/// Words in the vocabulary.
const WORDS: usize = 4_000;
/// Words a title never starts with or is made of (the most frequent ones).
const STOP: usize = 15;

/// SplitMix64: small, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Ranks `0..n` drawn with probability proportional to `1 / (rank + 1)^s`.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for rank in 0..n {
            sum += 1.0 / ((rank + 1) as f64).powf(s);
            cdf.push(sum);
        }
        cdf.iter_mut().for_each(|c| *c /= sum);
        Zipf { cdf }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

pub struct Vocabulary {
    words: Vec<String>,
    zipf: Zipf,
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        const SYLLABLES: [&str; 16] = [
            "ka", "lo", "mi", "ren", "tas", "vo", "pel", "dri", "sun", "mar", "tek", "zu", "bai",
            "no", "fer", "gal",
        ];
        let mut words: Vec<String> = REAL.iter().map(|w| (*w).to_owned()).collect();
        'fill: for len in 2..=3u32 {
            for n in 0..16usize.pow(len) {
                if words.len() == WORDS {
                    break 'fill;
                }
                let word: String = (0..len)
                    .map(|i| SYLLABLES[n / 16usize.pow(i) % 16])
                    .collect();
                words.push(word);
            }
        }
        Vocabulary {
            words,
            zipf: Zipf::new(WORDS, 1.0),
        }
    }

    fn word(&self, rng: &mut Rng) -> &str {
        &self.words[self.zipf.sample(rng)]
    }

    /// Between `min` and `max` words, the first capitalised, some commas, a full stop.
    pub fn sentence(&self, rng: &mut Rng, min: u64, max: u64) -> String {
        let n = min + rng.below(max - min + 1);
        let mut out = String::with_capacity(n as usize * 7);
        for i in 0..n {
            let word = self.word(rng);
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push_str(if rng.below(12) == 0 { ", " } else { " " });
                out.push_str(word);
            }
        }
        out.push('.');
        out
    }

    /// Three to six words past the most common ones, the first capitalised.
    pub fn title(&self, rng: &mut Rng) -> String {
        let n = 3 + rng.below(4);
        let mut words = Vec::with_capacity(n as usize);
        while words.len() < n as usize {
            let rank = self.zipf.sample(rng);
            if rank >= STOP {
                words.push(self.words[rank].as_str());
            }
        }
        let mut title = words.join(" ");
        if let Some(first) = title.get(..1) {
            title.replace_range(..1, &first.to_uppercase());
        }
        title
    }
}

/// Whether `text` has `word` as a whole word (any case).
pub fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}
