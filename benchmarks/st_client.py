"""A light Streamlit client: opens one app page over Streamlit's own websocket protocol, no browser.

Used by the class benchmark (``benchmarks/load_test.py``) to stand in for most students, and by
``tests/test_st_client.py``. It speaks what Streamlit's front end speaks (protobufs from
``streamlit.proto``), so the server does the same work for it as for a browser tab: a session, a
script run, every delta. It draws nothing and runs no JavaScript, so it costs the client machine
little. Loopback only: no proxy is ever used, and every wait is bounded by a deadline.

The handshake (Streamlit 1.67, Starlette server; see
``streamlit/web/server/starlette/starlette_websocket.py`` and ``streamlit/runtime/app_session.py``):

1. Open ``ws://HOST:PORT/_stcore/stream`` offering the subprotocol ``streamlit``. The front end
   repurposes that header as ``streamlit, <xsrf token>, <old session id>``; the token only
   unlocks auth cookies and the session id only resumes a session after a reconnect, so a fresh
   client sends ``streamlit`` alone. No ``Origin`` header is sent (allowed for non-browsers).
   The server accepts, connects a new session, and waits.
2. Send one ``BackMsg(rerun_script=ClientState(...))``, as the front end does on first load:
   ``query_string`` is the URL's query without ``?``; ``page_name`` is the page's URL path
   (``features`` for ``/features``: with ``st.navigation`` it is matched against each page's
   ``url_path``); ``page_script_hash`` is empty (not known before the first run); no widget
   states (nothing was touched); no ``cached_message_hashes``, so the server sends every
   element in full instead of ``ref_hash`` references.
3. Read ``ForwardMsg``s: ``new_session`` (run starts), ``page_info_changed`` (the app rewrote
   the query string), ``navigation``, ``delta`` (elements and blocks), ``script_finished``.
   Texts are taken from markdown, code, text, heading, alert, progress, spinner, toast and
   exception elements.
   If the app uses ``st.fragment(run_every=...)`` the server sends ``auto_rerun`` and expects
   the client to ask for the fragment's reruns: this client does so (``rerun_script`` with
   ``fragment_id`` and ``is_auto_rerun``), as the front end would. Websocket pings are answered
   by the ``websockets`` library. A dropped connection is reported, not resumed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

MAX_MESSAGE = 64 * 2**20  # one ForwardMsg (a chart with its data can be a few MB)
FINISHED = ForwardMsg.ScriptFinishedStatus.Name  # enum value -> name


@dataclass
class Visit:
    """What one client saw on one page."""

    seconds: float | None = None  # from opening the connection to the wanted text (None: never)
    found: str | None = None  # the text of the element holding the wanted text
    status: str = ""  # the last status text: a progress bar's text, or a queue/busy message
    queue: str = ""  # the last status text that speaks of a queue, waiting or an estimate
    errors: list[str] = field(default_factory=list)  # error alerts and exceptions shown
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) of every alert
    texts: list[str] = field(default_factory=list)  # every element text, in order (bounded)
    finished: bool = False  # a script run ended after the wanted text (the page is complete)
    rewritten_query: str | None = None  # the query string the app put in the URL, if it did
    ended: str | None = None  # why the visit ended without the wanted text, if it did
    messages: int = 0  # ForwardMsgs received

    @property
    def ok(self) -> bool:
        return self.seconds is not None and not self.errors


QUEUE_WORDS = ("queue", "position", "waiting", "estimat", "busy")


def is_status(kind: str, text: str) -> bool:
    """Progress and spinner texts; other texts that speak of a queue with a number in them
    (``position 3``, ``about 40 s``), not fixed notes such as the hosted-mode caption."""
    if kind in ("progress", "spinner"):
        return True
    lowered = text.lower()
    return any(w in lowered for w in QUEUE_WORDS) and any(c.isdigit() for c in text)


MAX_TEXTS = 2000


def element_text(element) -> tuple[str, str] | None:
    """(kind, text) of an element that shows text, else None."""
    kind = element.WhichOneof("type")
    if kind in ("markdown", "text", "heading"):
        return kind, getattr(element, kind).body
    if kind == "code":
        return kind, element.code.code_text
    if kind == "alert":
        return "alert." + Alert.Format.Name(element.alert.format).lower(), element.alert.body
    if kind in ("progress", "spinner"):
        return kind, getattr(element, kind).text
    if kind == "toast":
        return kind, element.toast.body
    if kind == "exception":
        e = element.exception
        return kind, "\n".join([f"{e.type}: {e.message}", *e.stack_trace])
    return None


def rerun_message(query_string: str, page_name: str, page_script_hash: str = "") -> BackMsg:
    """The BackMsg the front end sends to run a page (on first load: page from the URL path)."""
    msg = BackMsg()
    state = msg.rerun_script
    state.query_string = query_string.lstrip("?")
    state.page_name = page_name
    state.page_script_hash = page_script_hash
    state.widget_states.SetInParent()  # present and empty: nothing was touched
    return msg


class _Reruns:
    """Fragments the server asked to rerun every few seconds (``st.fragment(run_every=...)``)."""

    def __init__(self) -> None:
        self.due: dict[str, tuple[float, float]] = {}  # fragment id -> (interval, next time)

    def add(self, fragment_id: str, interval: float) -> None:
        self.due[fragment_id] = (interval, time.monotonic() + interval)

    def wait(self) -> float | None:
        if not self.due:
            return None
        return max(0.0, min(t for _, t in self.due.values()) - time.monotonic())

    def take(self) -> list[str]:
        now = time.monotonic()
        ready = [f for f, (_, t) in self.due.items() if t <= now]
        for f in ready:
            interval, _ = self.due[f]
            self.due[f] = (interval, now + interval)
        return ready


async def visit(
    base_url: str,
    page: str,
    query_string: str,
    want: str,
    timeout: float,
    *,
    settle: float = 30.0,
    hold: asyncio.Event | None = None,
    on_status=None,
    on_done=None,
    stop_on_error: bool = False,
) -> Visit:
    """Open ``page`` (its URL path) of the app at ``base_url`` with ``query_string`` and wait up
    to ``timeout`` seconds for an element whose text contains ``want``.

    Then, like a student keeping the tab open, wait up to ``settle`` seconds for the run to
    finish (errors shown meanwhile still count), call ``on_done(visit)`` (if given), and keep the
    connection open until ``hold`` is set (if given; bounded by ``timeout`` from the start). A
    run that finishes without the text ends the visit (unless the app polls with fragment
    reruns). ``on_status(text)`` is called with each new status text. Never raises for what the
    server does: failures are in ``Visit.ended``.
    """
    out = Visit()
    start = time.monotonic()
    deadline = start + timeout
    ws_url = base_url.replace("http://", "ws://", 1).rstrip("/") + "/_stcore/stream"
    reruns = _Reruns()
    query, page_hash = query_string.lstrip("?"), ""

    def seen(kind: str, text: str) -> None:
        if len(out.texts) < MAX_TEXTS:
            out.texts.append(text)
        if kind.startswith("alert.") and len(out.alerts) < MAX_TEXTS:
            out.alerts.append((kind.removeprefix("alert."), text))
        if kind in ("exception", "alert.error") or "Traceback" in text:
            out.errors.append(text[:300])
        elif is_status(kind, text):
            out.status = " ".join(text.split())[:200]
            if any(w in text.lower() for w in QUEUE_WORDS):
                out.queue = out.status
            if on_status is not None:
                on_status(out.status)
        if out.seconds is None and want in text:
            out.seconds = time.monotonic() - start
            out.found = text

    try:
        async with connect(
            ws_url,
            subprotocols=["streamlit"],
            proxy=None,
            open_timeout=min(30.0, timeout),
            max_size=MAX_MESSAGE,
            max_queue=None,
        ) as ws:
            await ws.send(rerun_message(query, page).SerializeToString())
            settle_until: float | None = None
            while True:
                now = time.monotonic()
                if out.seconds is not None and settle_until is None:
                    settle_until = min(now + settle, deadline)
                if settle_until is not None and (out.finished or now >= settle_until):
                    break
                if now >= deadline:
                    out.ended = out.ended or f"no results after {timeout:.0f} s"
                    break
                if stop_on_error and out.errors and out.seconds is None:
                    out.ended = f"an error was shown: {out.errors[0][:200]}"
                    break
                limit = deadline - now if settle_until is None else settle_until - now
                due = reruns.wait()
                wait = limit if due is None else min(limit, due)
                try:
                    raw = await asyncio.wait_for(ws.recv(), wait)
                except TimeoutError:
                    for fragment in reruns.take():
                        msg = rerun_message(query, page, page_hash)
                        msg.rerun_script.fragment_id = fragment
                        msg.rerun_script.is_auto_rerun = True
                        await ws.send(msg.SerializeToString())
                    continue
                if isinstance(raw, str):  # the server only sends binary protobufs
                    out.ended = "unexpected text frame"
                    break
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                out.messages += 1
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    page_hash = msg.new_session.page_script_hash or page_hash
                    reruns.due.clear()
                elif kind == "page_info_changed":
                    query = out.rewritten_query = msg.page_info_changed.query_string
                elif kind == "auto_rerun":
                    reruns.add(msg.auto_rerun.fragment_id, max(0.5, msg.auto_rerun.interval))
                elif kind == "stop_auto_rerun":
                    for fragment in msg.stop_auto_rerun.fragment_ids:
                        reruns.due.pop(fragment, None)
                elif kind == "page_not_found":
                    out.errors.append(f"page not found: {page}")
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    shown = element_text(msg.delta.new_element)
                    if shown is not None:
                        seen(*shown)
                elif kind == "script_finished":
                    status = FINISHED(msg.script_finished)
                    if status == "FINISHED_EARLY_FOR_RERUN":
                        continue  # a rerun follows at once
                    if out.seconds is not None:
                        out.finished = True
                    elif not reruns.due:
                        out.ended = "the page finished without results" + (
                            f": {out.errors[-1][:120]}" if out.errors else ""
                        )
                        break
            if out.seconds is not None:
                if on_done is not None:
                    on_done(out)
                    on_done = None
                if hold is not None:
                    await _hold(ws, hold, deadline)
    except ConnectionClosed as exc:
        out.ended = out.ended or f"connection closed: {exc}"
    except (OSError, TimeoutError) as exc:
        out.ended = out.ended or f"{type(exc).__name__}: {exc}"
    if on_done is not None:
        on_done(out)
    return out


async def _hold(ws, hold: asyncio.Event, deadline: float) -> None:
    """Keep the session open (reading and dropping messages) until ``hold`` is set."""
    while not hold.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        waiter = asyncio.ensure_future(hold.wait())
        reader = asyncio.ensure_future(ws.recv())
        done, pending = await asyncio.wait(
            {waiter, reader}, timeout=left, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if reader in done and reader.exception() is not None:
            raise reader.exception()
