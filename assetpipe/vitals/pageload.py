"""One cold load of one URL in a Browser, read back as web vitals.

Each load gets a tab in a new browser context with the cache off, so nothing is shared with the load
before it. The profile's viewport and DPR are always applied, its CPU and network throttling when asked;
an observer script is installed before the page's own first script (`Page.addScriptToEvaluateOnNewDocument`)
and collects `largest-contentful-paint` and `layout-shift` entries (buffered). After the load event and a
quiet network, the last LCP entry, the CLS sum and each `<img>`'s state are read in the page; bytes come
from `Network.loadingFinished`, console errors from `Runtime.consoleAPICalled` and `Runtime.exceptionThrown`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .browser import Browser, BrowserError, BrowserTimeout, Event
from .profiles import Profile

_QUIET_S = 0.5  # no request in flight for this long after the load event: the network is quiet
# after the load event, no network event at all for this long while a request is still "in flight": it is
# one whose answer goes to another target (a Web Worker's script: MkDocs-Material's search worker), so it
# does not keep the load open (bytes still arriving send Network.dataReceived, which counts as activity)
_STALLED_S = 2.0
_READ_S = 10.0

OBSERVERS = """(() => {
  if (window !== window.top || window.__assetpipeVitals) return;
  const seen = window.__assetpipeVitals = {lcp: [], cls: 0};
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) seen.lcp.push(e); })
      .observe({type: 'largest-contentful-paint', buffered: true});
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) seen.cls += e.value;
    }).observe({type: 'layout-shift', buffered: true});
  } catch (e) { seen.unsupported = String(e); }
})();"""

READ = """new Promise((resolve) => {
  const read = () => {
    const seen = window.__assetpipeVitals || {lcp: [], cls: 0};
    const images = Array.from(document.querySelectorAll('img'));
    const last = seen.lcp.length ? seen.lcp[seen.lcp.length - 1] : null;
    const element = last ? last.element : null;
    const w = window.innerWidth, h = window.innerHeight;
    resolve({
      lcp_ms: last ? (last.startTime || last.renderTime || last.loadTime || 0) : 0,
      lcp_tag: element ? element.tagName : '',
      lcp_image: element && element.tagName === 'IMG' ? images.indexOf(element) : -1,
      lcp_url: last ? (last.url || '') : '',
      lcp_size: last ? last.size : 0,
      cls: seen.cls,
      images: images.map((img) => {
        const r = img.getBoundingClientRect();
        const top = r.top + window.scrollY, left = r.left + window.scrollX;
        const picture = img.parentElement;
        let mark = picture && picture.tagName === 'PICTURE' ? picture.getAttribute('data-assetpipe') : null;
        if (mark === null && img.hasAttribute('data-assetpipe-attrs')) mark = img.getAttribute('src');
        let written = '';
        try { written = mark === null ? '' : new URL(mark, document.baseURI).href; } catch (e) { written = ''; }
        return {src: img.getAttribute('src') || '', current_src: img.currentSrc || '',
                src_url: img.src || '', rewritten_src: written,
                loading: img.loading || '', fetchpriority: img.getAttribute('fetchpriority') || '',
                in_viewport: r.width > 0 && r.height > 0 && top < h && top + r.height > 0
                             && left < w && left + r.width > 0,
                width: Math.round(r.width), height: Math.round(r.height)};
      }),
    });
  };
  requestAnimationFrame(() => requestAnimationFrame(read));
  setTimeout(read, 500);
})"""


class PageLoadError(BrowserError):
    """The page could not be loaded (navigation error, an HTTP error, no load event in time); one line
    naming the URL. `reason` is the line without the URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class ImageSeen:
    index: int  # document order among the page's <img> elements
    src: str  # the src attribute as written
    current_src: str  # img.currentSrc after load
    loading: str  # img.loading ("eager"/"lazy"/"auto")
    fetchpriority: str  # the attribute, "" when absent
    in_viewport: bool  # its box intersects the first viewport at load
    width: int  # rendered CSS px
    height: int
    src_url: str = ""  # the src attribute resolved to an absolute URL ("" when absent)
    # in a <picture data-assetpipe="…"> (one assetpipe wrote): the author's src it records, resolved; an
    # <img data-assetpipe-attrs> (one it gave attributes only, in a hydrated root): its src; else ""
    rewritten_src: str = ""


@dataclass(frozen=True)
class Request:
    url: str
    resource_type: str
    status: int
    encoded_bytes: int  # Network.loadingFinished encodedDataLength


@dataclass(frozen=True)
class PageLoad:
    url: str
    profile: str
    lcp_ms: float  # last largest-contentful-paint entry's startTime
    lcp_image: int | None  # index (as ImageSeen.index) of the LCP element when it is an <img>, else None
    lcp_tag: str  # tagName of the LCP element ("IMG", "H1", ...), "" when none
    cls: float  # sum of layout-shift values without hadRecentInput
    bytes_total: int
    bytes_images: int
    requests: tuple[Request, ...]
    images: tuple[ImageSeen, ...]
    console_errors: tuple[str, ...]  # console errors and uncaught exceptions (hydration errors show here)
    lcp_url: str = ""  # the LCP entry's url: an image's (or a CSS background's) URL, "" for text
    lcp_size: int = 0  # the LCP entry's size (rendered area, CSS px²)


@dataclass
class _Traffic:
    """What the network and the console said during one load (mutable, local to one load)."""

    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    loaded: bool = False
    last_change: float = 0.0

    def take(self, event: Event) -> None:
        p, method = event.params, event.method
        now = time.monotonic()
        if method == "Network.requestWillBeSent":
            entry = self.seen.setdefault(p["requestId"], {"status": 0, "bytes": 0})
            entry.update(url=p["request"]["url"], type=p.get("type", "Other"))
            self.in_flight.add(p["requestId"])
        elif method == "Network.responseReceived" and p["requestId"] in self.seen:
            self.seen[p["requestId"]].update(status=p["response"].get("status", 0), type=p.get("type", "Other"))
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self.in_flight.discard(p["requestId"])
            if method == "Network.loadingFinished" and p["requestId"] in self.seen:
                self.seen[p["requestId"]]["bytes"] = int(p.get("encodedDataLength", 0))
        elif method == "Network.dataReceived":
            pass
        elif method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append(" ".join(_describe(arg) for arg in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = p.get("exceptionDetails", {})
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
        else:
            return
        self.last_change = now

    def requests(self) -> tuple[Request, ...]:
        return tuple(Request(e.get("url", ""), e.get("type", "Other"), int(e["status"]), int(e["bytes"]))
                     for e in self.seen.values())


def _describe(arg: dict[str, Any]) -> str:
    value = arg.get("value")
    return str(value) if value is not None else str(arg.get("description", arg.get("type", "")))


def _prepare(browser: Browser, session: str, profile: Profile, throttle: bool) -> None:
    for domain in ("Page", "Network", "Runtime"):
        browser.call(f"{domain}.enable", session=session)
    browser.call("Network.setCacheDisabled", {"cacheDisabled": True}, session)
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": profile.width, "height": profile.height, "deviceScaleFactor": profile.dpr,
                  "mobile": profile.mobile}, session)
    if profile.mobile:
        browser.call("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}, session)
    if throttle:
        browser.call("Emulation.setCPUThrottlingRate", {"rate": profile.cpu_slowdown}, session)
        browser.call("Network.emulateNetworkConditions",
                     {"offline": False, "latency": profile.rtt_ms,
                      "downloadThroughput": profile.down_kbps * 1000 / 8,
                      "uploadThroughput": profile.up_kbps * 1000 / 8}, session)
    browser.call("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVERS}, session)


def _wait(browser: Browser, session: str, traffic: _Traffic, url: str, deadline: float, timeout_s: float) -> None:
    """Until the load event has fired and no request was in flight for _QUIET_S (or the deadline passed
    after the load event: a page that never goes quiet is read as it is then)."""
    while True:
        now = time.monotonic()
        if traffic.loaded and now - traffic.last_change >= (_STALLED_S if traffic.in_flight else _QUIET_S):
            return
        if now >= deadline:
            if traffic.loaded:
                return
            raise PageLoadError(url, f"no load event within {timeout_s:g} s")
        wait = deadline - now
        if traffic.loaded:
            wait = min(wait, (_STALLED_S if traffic.in_flight else _QUIET_S) - (now - traffic.last_change))
        event = browser.next_event(session, wait)
        if event is not None:
            traffic.take(event)


def load_page(browser: Browser, url: str, profile: Profile, *, throttle: bool = True,
              timeout_s: float = 60.0) -> PageLoad:
    """Load `url` once, cold, as `profile`, and read back what it did. Raises PageLoadError (one line)
    when the page cannot be loaded in `timeout_s`, BrowserError when Chromium itself fails."""
    deadline = time.monotonic() + timeout_s
    with browser.tab() as session:
        _prepare(browser, session, profile, throttle)
        traffic = _Traffic(last_change=time.monotonic())
        try:
            navigated = browser.call("Page.navigate", {"url": url}, session,
                                     timeout_s=max(deadline - time.monotonic(), 0.1))
        except BrowserTimeout:
            raise PageLoadError(url, f"no response within {timeout_s:g} s") from None
        if navigated.get("errorText"):
            raise PageLoadError(url, navigated["errorText"])
        _wait(browser, session, traffic, url, deadline, timeout_s)
        found = browser.call("Runtime.evaluate", {"expression": READ, "awaitPromise": True, "returnByValue": True},
                             session, timeout_s=_READ_S)
        if "exceptionDetails" in found:
            raise PageLoadError(url, f"reading the measures failed: {found['exceptionDetails'].get('text', '')}")
        # events that arrived while reading (a late console error) still count
        while (event := browser.next_event(session, 0)) is not None:
            traffic.take(event)
    document = next((r for r in traffic.requests() if r.resource_type == "Document"), None)
    if document is not None and document.status >= 400:
        raise PageLoadError(url, f"HTTP {document.status}")
    value: dict[str, Any] = found["result"]["value"]
    images = tuple(ImageSeen(i, d["src"], d["current_src"], d["loading"], d["fetchpriority"],
                             bool(d["in_viewport"]), int(d["width"]), int(d["height"]), d["src_url"],
                             d["rewritten_src"])
                   for i, d in enumerate(value["images"]))
    requests = traffic.requests()
    return PageLoad(
        url=url, profile=profile.name, lcp_ms=float(value["lcp_ms"]),
        lcp_image=value["lcp_image"] if value["lcp_image"] >= 0 else None, lcp_tag=value["lcp_tag"],
        cls=float(value["cls"]), bytes_total=sum(r.encoded_bytes for r in requests),
        bytes_images=sum(r.encoded_bytes for r in requests if r.resource_type == "Image"),
        requests=requests, images=images, console_errors=tuple(traffic.errors),
        lcp_url=value["lcp_url"], lcp_size=int(value["lcp_size"] or 0))
