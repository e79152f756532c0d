#!/usr/bin/env python3
"""Loopback MCP test server for the ChatKit backend (widgets + human-in-the-loop).

The project's own test peer: the tests in tests/api start it on a free port
(tests/api/support/python.rs) and check our MCP client against a server built
on a library no one on this project wrote.

Built on the official MCP Python SDK (package `mcp`, verified with 2.3.0, whose
high-level server class is `MCPServer`; `FastMCP` was the 1.x name).

Serves Streamable HTTP on http://127.0.0.1:$PORT/mcp (PORT defaults to 8802).
The one endpoint speaks BOTH protocol eras:
  * handshake era (initialize + Mcp-Session-Id), versions 2024-11-05 .. 2025-11-25
  * modern era 2026-07-28 (stateless, server/discover, per-request _meta,
    multi-round-trip "input_required" results instead of server->client requests)
The SDK routes each POST on its MCP-Protocol-Version header.

Tools
  echo(text)                    -> text
  show_weather_widget(city)     -> text + embedded resource ui://widgets/weather/<city>
                                   mimeType application/vnd.ui.widget+json,
                                   text = {"widget": <ChatKit Card>, "copy_text": "..."}
  show_weather_widget_blob(city)-> same payload, base64 `blob` instead of `text`
  show_widget_link(city)        -> resource_link to ui://widgets/weather/<city> (read it
                                   with resources/read; the template below serves it)
  show_bare_widget(city)        -> mcp-chatkit-widget style: bare WidgetRoot JSON as a text
                                   block AND as structuredContent, no resource
  show_html_ui(flavor)          -> MCP-UI / MCP Apps / Apps SDK style ui:// HTML resource
                                   flavor: mcp-ui (text/html, default) | mcp-app
                                   (text/html;profile=mcp-app) | skybridge
                                   (text/html+skybridge) | uri-list (text/uri-list)
  fail()                        -> isError: true result
  slow(seconds)                 -> sleeps (progress notifications each second) then returns
  ask_human(question)           -> elicitation {approved: bool, comment: str}
                                   legacy era: ctx.elicit() = server->client elicitation/create
                                   2026-07-28: returns InputRequiredResult (MRTR) and reads the
                                   answer from inputResponses on the client's retry
  confirm_action(action)        -> same question via the SDK's era-portable Resolve(...)
  get_forecast(city, days)      -> structuredContent (+ outputSchema) and a JSON text block
Resources: info://test-server/about (static, text/plain) and the template
           ui://widgets/weather/{city} (application/vnd.ui.widget+json)
Prompt:    weather_report(city)

Run:   python3 -m venv .venv && .venv/bin/pip install mcp==2.3.0
       .venv/bin/python tests/mcp/mcp_test_server.py [--port 8802]
Stop:  kill <pid>   (it only binds 127.0.0.1)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from typing import Annotated, Literal
from urllib.parse import quote

import anyio
from pydantic import BaseModel, Field

from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
    MCPServer,
    Resolve,
)
from mcp.types import (
    BlobResourceContents,
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    InputRequiredResult,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

WIDGET_MIME = "application/vnd.ui.widget+json"

mcp = MCPServer(
    "chatkit-mcp-test-server",
    version="0.1.0",
    instructions="Loopback test server: widgets, ui:// resources, errors, slow calls, elicitation.",
)


# ----------------------------------------------------------------------------- helpers

_FAKE_WEATHER = {
    "paris": (18, "Partly cloudy"),
    "london": (14, "Light rain"),
    "tokyo": (23, "Sunny"),
}


def _weather(city: str) -> tuple[int, str]:
    return _FAKE_WEATHER.get(city.strip().lower(), (21, "Clear sky"))


def weather_card(city: str) -> dict:
    """A ChatKit WidgetRoot (Card) built from ChatKit component names/fields."""
    temp, cond = _weather(city)
    return {
        "type": "Card",
        "size": "sm",
        "children": [
            {"type": "Title", "value": f"Weather in {city}", "size": "md"},
            {"type": "Text", "value": f"{temp}\u00b0C, {cond}", "color": "secondary"},
            {
                "type": "Row",
                "gap": 2,
                "children": [
                    {
                        "type": "Button",
                        "label": "Refresh",
                        "style": "primary",
                        "onClickAction": {"type": "weather.refresh", "payload": {"city": city}},
                    },
                    {
                        "type": "Button",
                        "label": "Details",
                        "variant": "outline",
                        "onClickAction": {
                            "type": "weather.details",
                            "payload": {"city": city},
                            "handler": "server",
                        },
                    },
                ],
            },
        ],
    }


def widget_payload(city: str) -> dict:
    temp, cond = _weather(city)
    return {"widget": weather_card(city), "copy_text": f"Weather in {city}: {temp}\u00b0C, {cond}"}


def widget_uri(city: str) -> str:
    return f"ui://widgets/weather/{quote(city, safe='')}"


# ----------------------------------------------------------------------------- tools


@mcp.tool()
def echo(text: str) -> str:
    """Echo the given text back."""
    return text


@mcp.tool()
def show_weather_widget(city: str) -> list[TextContent | EmbeddedResource]:
    """Show the current weather for a city as a ChatKit widget."""
    temp, cond = _weather(city)
    return [
        TextContent(type="text", text=f"It is {temp}\u00b0C and {cond.lower()} in {city}."),
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri=widget_uri(city), mime_type=WIDGET_MIME, text=json.dumps(widget_payload(city))
            ),
        ),
    ]


@mcp.tool()
def show_weather_widget_blob(city: str) -> list[TextContent | EmbeddedResource]:
    """Same widget as show_weather_widget, but carried as a base64 blob."""
    raw = json.dumps(widget_payload(city)).encode()
    return [
        TextContent(type="text", text=f"Weather widget for {city} (blob variant)."),
        EmbeddedResource(
            type="resource",
            resource=BlobResourceContents(
                uri=widget_uri(city), mime_type=WIDGET_MIME, blob=base64.b64encode(raw).decode()
            ),
        ),
    ]


@mcp.tool()
def show_widget_link(city: str) -> list[TextContent | ResourceLink]:
    """Return a resource_link to the weather widget instead of embedding it."""
    return [
        TextContent(type="text", text=f"Widget for {city} is available as a linked resource."),
        ResourceLink(type="resource_link", uri=widget_uri(city), name=f"weather-{city}", mime_type=WIDGET_MIME),
    ]


@mcp.tool(structured_output=False)
def show_bare_widget(city: str) -> CallToolResult:
    """mcp-chatkit-widget style output: bare WidgetRoot JSON as text and structuredContent."""
    card = weather_card(city)
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(card))], structured_content=card)


_HTML = (
    "<!doctype html><html><body style='font-family:sans-serif'>"
    "<h3>Hello from a ui:// HTML resource</h3>"
    "<button onclick=\"window.parent.postMessage({type:'tool',payload:{toolName:'echo',"
    "params:{text:'clicked'}}},'*')\">Call echo</button></body></html>"
)


@mcp.tool()
def show_html_ui(
    flavor: Literal["mcp-ui", "mcp-app", "skybridge", "uri-list"] = "mcp-ui",
) -> list[TextContent | EmbeddedResource]:
    """Return an HTML UI resource in one of the ecosystem's ui:// flavors."""
    mime, text = {
        "mcp-ui": ("text/html", _HTML),
        "mcp-app": ("text/html;profile=mcp-app", _HTML),
        "skybridge": ("text/html+skybridge", _HTML),
        "uri-list": ("text/uri-list", "https://example.com/weather-app"),
    }[flavor]
    return [
        TextContent(type="text", text=f"Rendered an HTML UI ({flavor})."),
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(uri=f"ui://test-server/hello-{flavor}", mime_type=mime, text=text),
        ),
    ]


@mcp.tool(structured_output=False)
def fail() -> CallToolResult:
    """Always fails with a tool-level error (isError: true)."""
    return CallToolResult(content=[TextContent(type="text", text="Simulated failure: upstream unavailable")], is_error=True)


@mcp.tool()
async def slow(seconds: float, ctx: Context) -> str:
    """Sleep for `seconds` (max 600), emitting a progress notification about every second."""
    seconds = max(0.0, min(float(seconds), 600.0))
    elapsed = 0.0
    while elapsed < seconds:
        step = min(1.0, seconds - elapsed)
        await anyio.sleep(step)
        elapsed += step
        try:
            await ctx.report_progress(elapsed, seconds, f"slept {elapsed:.1f}s")
        except Exception:  # progress is best-effort (no progressToken, no stream, ...)
            pass
    return f"slept {seconds:g}s"


class HumanAnswer(BaseModel):
    approved: bool = Field(description="Approve the request?")
    comment: str = Field(default="", description="Optional comment for the agent")


_ASK_KEY = "human_answer"


@mcp.tool(structured_output=False)
async def ask_human(question: str, ctx: Context) -> CallToolResult | InputRequiredResult:
    """Ask a human (through the MCP client's elicitation support) to approve and comment."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        # 2026-07-28: no server->client requests. Return the question (MRTR) and
        # read the answer from inputResponses when the client retries the call.
        answer = (ctx.input_responses or {}).get(_ASK_KEY)
        if not isinstance(answer, ElicitResult):
            return InputRequiredResult(
                input_requests={
                    _ASK_KEY: ElicitRequest(
                        params=ElicitRequestFormParams(
                            message=question, requested_schema=render_elicitation_schema(HumanAnswer)
                        )
                    )
                },
                request_state=json.dumps({"q": question}),
            )
        action, content = answer.action, answer.content
        data = HumanAnswer.model_validate(content).model_dump() if action == "accept" and content else None
    else:
        # Handshake era: a live elicitation/create request on this session.
        result = await ctx.elicit(question, HumanAnswer)
        action = result.action
        data = result.data.model_dump() if result.action == "accept" else None
    payload = {"action": action, "answer": data, "protocol_version": ctx.protocol_version}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(payload))], structured_content=payload)


class Confirm(BaseModel):
    ok: bool = Field(description="Go ahead?")


async def _ask_confirm(action: str) -> Elicit[Confirm]:
    return Elicit(f"Allow the agent to: {action}?", Confirm)


@mcp.tool()
async def confirm_action(
    action: str, confirm: Annotated[ElicitationResult[Confirm], Resolve(_ask_confirm)]
) -> str:
    """Ask for confirmation using the SDK's era-portable resolver (MRTR or elicitation/create)."""
    match confirm:
        case AcceptedElicitation(data=Confirm(ok=True)):
            return f"confirmed: {action}"
        case AcceptedElicitation():
            return f"rejected: {action}"
        case DeclinedElicitation():
            return "declined"
        case CancelledElicitation():
            return "cancelled"
    return "unknown"


class DayForecast(BaseModel):
    day: int
    temp_c: int
    condition: str


class Forecast(BaseModel):
    city: str
    days: list[DayForecast]


@mcp.tool()
def get_forecast(city: str, days: int = 3) -> Forecast:
    """Multi-day forecast returned as structuredContent (with an outputSchema)."""
    temp, cond = _weather(city)
    n = max(1, min(days, 7))
    return Forecast(city=city, days=[DayForecast(day=i + 1, temp_c=temp + (i % 3) - 1, condition=cond) for i in range(n)])


# ----------------------------------------------------------------------------- resources / prompt


@mcp.resource("info://test-server/about", name="about", mime_type="text/plain", description="What this server is")
def about() -> str:
    return "chatkit-mcp-test-server: loopback MCP server for widget and human-in-the-loop tests."


@mcp.resource("ui://widgets/weather/{city}", name="weather-widget", mime_type=WIDGET_MIME,
              description="ChatKit weather widget payload for a city")
def weather_widget_resource(city: str) -> str:
    return json.dumps(widget_payload(city))


@mcp.prompt()
def weather_report(city: str) -> str:
    """Ask the assistant for a weather report with a widget."""
    return f"Give me a short weather report for {city} and show the weather widget."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8802")))
    parser.add_argument("--json-response", action="store_true",
                        help="legacy leg answers POSTs with one JSON body instead of SSE "
                             "(no mid-call elicitation/progress on the legacy leg)")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("refusing to bind a non-loopback address")
    mcp.run("streamable-http", host=args.host, port=args.port, streamable_http_path="/mcp",
            json_response=args.json_response)


if __name__ == "__main__":
    main()
