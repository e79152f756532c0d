//! Markdown from a model or a widget is untrusted: scripts, event handlers and `javascript:`
//! links stay inert, on the chat page whose policy does not forbid inline script (so only the
//! sanitiser stands in the way). What Markdown should do (GFM tables, code blocks with a
//! language class, links to a new tab) still works.

use serde_json::json;

use super::render;
use crate::support::app::{Db, spawn_app};
use crate::support::browser::{Browser, Viewport};
use crate::support::macros::db_case;

const HOSTILE: &str = "# Title\n\n\
<script>window.__xss = 'script'</script>\n\n\
<img src=\"/nothing.png\" onerror=\"window.__xss = 'onerror'\">\n\n\
<svg><animate onbegin=\"window.__xss = 'svg'\" attributeName=\"x\" dur=\"1s\"/></svg>\n\n\
<iframe src=\"javascript:window.__xss = 'iframe'\"></iframe>\n\n\
[markdown link](javascript:window.__xss='md-link') and \
<a href=\"javascript:window.__xss='html-link'\" id=\"raw\">html link</a> and \
<a href=\"JaVaScRiPt&colon;window.__xss='encoded'\">encoded</a>\n\n\
<form action=\"/x\"><button id=\"fake\">Log in</button></form>\n\n\
<p style=\"position:fixed;inset:0\" onclick=\"window.__xss='click'\">overlay</p>\n\n\
| a | b |\n|---|---|\n| 1 | 2 |\n\n\
```rust\nfn main() {}\n```\n\n\
A [real link](https://example.com/page \"title\").";

db_case!(markdown_is_sanitised);
async fn markdown_is_sanitised(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let Some(browser) =
        Browser::start(&format!("widget_markdown-{}", db.name()), Viewport::Desktop).await
    else {
        return;
    };
    browser.goto(&format!("{}/", app.address)).await;
    let widget = json!({"type": "Card", "children": [{"type": "Markdown", "value": HOSTILE}]});
    render(&browser, &[widget]).await;
    // Also the message path: the module on its own, appended to the page.
    browser
        .execute(
            "document.body.append(window.__markdown.renderMarkdown(arguments[0]));",
            vec![json!(HOSTILE)],
        )
        .await;
    // Give loading and animation handlers a chance to run.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ran = browser
        .execute("return window.__xss ?? null;", vec![])
        .await;
    assert_eq!(ran, json!(null), "a handler ran while the Markdown loaded");
    // Then click everything that could run code, but not the real link (it would leave).
    browser
        .execute(
            "const risky = 'a:not([href^=\"https:\"]), p, img, svg *';
             for (const el of document.querySelectorAll(risky)) {
               el.click?.();
               el.dispatchEvent(new MouseEvent('click', {bubbles: true}));
             }",
            vec![],
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let seen = browser
        .execute(
            "const all = [...document.querySelectorAll('.ckw-markdown *, body > *')];
             return {
               xss: window.__xss ?? null,
               url: location.href,
               scripts: document.querySelectorAll('body script, body iframe, body form, body button#fake').length,
               handlers: all.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
               styled: document.querySelectorAll('.ckw-markdown [style]').length,
               jsLinks: [...document.querySelectorAll('a')].filter(a => /^\\s*javascript/i.test(a.getAttribute('href') ?? '')).length,
               real: [...document.querySelectorAll('.ckw-markdown a[href^=https]')].map(a => [a.target, a.rel]),
               code: document.querySelector('.ckw-markdown pre code')?.className,
               table: document.querySelectorAll('.ckw-markdown table td').length,
               heading: document.querySelector('.ckw-markdown h1')?.textContent,
             };",
            vec![],
        )
        .await;
    assert_eq!(seen["xss"], json!(null), "nothing ran: {seen}");
    assert_eq!(seen["url"], format!("{}/", app.address), "no navigation");
    assert_eq!(seen["scripts"], 0, "{seen}");
    assert_eq!(seen["handlers"], 0, "{seen}");
    assert_eq!(seen["styled"], 0, "{seen}");
    assert_eq!(seen["jsLinks"], 0, "{seen}");
    assert_eq!(
        seen["real"],
        json!([["_blank", "noopener noreferrer"]]),
        "{seen}"
    );
    assert_eq!(seen["code"], "language-rust");
    assert_eq!(seen["table"], 2);
    assert_eq!(seen["heading"], "Title");

    // Streaming: the same call on a growing text, an unclosed code fence included.
    let grown = browser
        .execute(
            "const md = window.__markdown;
             const text = 'Here is code:\\n\\n```js\\nconst a = 1;\\n```\\n\\nDone.';
             let last = null;
             for (let i = 1; i <= text.length; i++) {
               const div = document.createElement('div');
               div.append(md.renderMarkdown(text.slice(0, i)));
               last = div;
             }
             const partial = document.createElement('div');
             partial.append(md.renderMarkdown('```py\\nprint(1)'));
             return [last.querySelector('code.language-js')?.textContent, last.textContent.includes('Done.'),
                     partial.querySelector('code.language-py')?.textContent];",
            vec![],
        )
        .await;
    assert_eq!(grown, json!(["const a = 1;\n", true, "print(1)\n"]));
    browser.close().await;
}
