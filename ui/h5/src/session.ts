// One session's WebSocket: hello, ready, frames, reconnect and resume (docs/h5-protocol.md §3, §5).

import { backoffMs, closeInfo, type CloseInfo } from './protocol/close';
import { parseServerMessage, type ClientFacts, type HelloMsg, type ServerMessage } from './protocol/messages';
import { SUITE } from './protocol/seal';
import { toBase64Url } from './protocol/bytes';

export interface ConnectionEvents {
  /** every well-formed server message */
  message(msg: ServerMessage): void;
  /** the socket is being (re)opened; `attempt` 0 for the first */
  connecting(attempt: number): void;
  /** the socket closed for good (no more reconnects): what the table says about it */
  closed(info: CloseInfo, lastError: ServerMessage | null): void;
  /** `giveUpAfter` sockets in a row closed before their `ready`: the line cannot carry a WebSocket */
  unreachable?(): void;
}

/** How long the page waits without any server message while frames are out before it calls the line dead. */
const SILENCE_MS = 8000;

export class Connection {
  private ws: WebSocket | null = null;
  private helloSent = false;
  private attempt = 0;
  private spentMs = 0;
  private stopped = false;
  private lastError: ServerMessage | null = null;
  private lastHeard = 0;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private forced = false;
  /** sockets opened since the last `ready` (the current one included) */
  private opensSinceReady = 0;
  /** after this many sockets in a row fail before `ready`, `unreachable` is called instead of retrying */
  giveUpAfter = Infinity;
  /** whether the latest socket got its `ready` (frames may flow) */
  ready = false;
  /** the key was kept from before a reload: even the first hello of this page is a resume */
  resumeFirst = false;
  /** whether the page waits for a reply (frames unacknowledged): only then is silence a dead line */
  awaiting: () => boolean = () => true;

  constructor(
    private readonly url: string,
    private readonly clientKey: Uint8Array,
    private readonly facts: () => ClientFacts,
    private readonly events: ConnectionEvents,
  ) {}

  open(): void {
    if (this.stopped) return;
    this.events.connecting(this.attempt);
    this.ready = false;
    this.forced = false;
    this.opensSinceReady += 1;
    this.lastHeard = Date.now();
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.onClose(1006, '');
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      const hello: HelloMsg = {
        type: 'hello',
        suite: SUITE,
        client_key: toBase64Url(this.clientKey),
        // The server binds the key at the first hello; every later one is a resume.
        resume: this.helloSent || this.resumeFirst,
        client: this.facts(),
      };
      ws.send(JSON.stringify(hello));
      this.helloSent = true;
      this.lastHeard = Date.now();
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      if (typeof ev.data !== 'string') return;
      const msg = parseServerMessage(ev.data);
      if (!msg) return;
      if (msg.type === 'ready') {
        this.ready = true;
        this.opensSinceReady = 0;
        this.attempt = 0;
        this.spentMs = 0;
      }
      if (msg.type === 'error') this.lastError = msg;
      this.events.message(msg);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.ready = false;
      this.onClose(this.forced ? 1006 : ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    if (!this.watchdog) {
      this.watchdog = setInterval(() => this.checkSilence(), 1000);
    }
  }

  /** Sends one sealed frame; false when the socket cannot take it now. */
  send(frame: Uint8Array): boolean {
    const ws = this.ws;
    if (!ws || !this.ready || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(frame);
    return true;
  }

  /** Bytes queued in the socket (the page does not pile frames onto a slow line). */
  buffered(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** Ends everything on the page's side (a result arrived, or the page gives up). */
  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.watchdog = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }

  /** Test hook and network-change hook: drop the socket as if the line died. */
  drop(): void {
    const ws = this.ws;
    if (!ws) return;
    this.forced = true;
    try {
      ws.close(4999, 'client_reconnect');
    } catch {
      /* already closing */
    }
    // Do not wait for a close frame that may never come.
    ws.onclose = null;
    this.ws = null;
    this.ready = false;
    this.onClose(1006, '');
  }

  private checkSilence(): void {
    if (this.stopped || !this.ws) return;
    if (!this.ready || this.awaiting()) {
      if (Date.now() - this.lastHeard > SILENCE_MS) this.drop();
    } else {
      this.lastHeard = Date.now();
    }
  }

  private onClose(code: number, reason: string): void {
    if (this.stopped) return;
    const info = closeInfo(code, reason);
    if (info.action === 'reconnect' && this.opensSinceReady >= this.giveUpAfter && this.events.unreachable) {
      // A server's own closing code is an answer; only sockets that never got going count.
      this.stop();
      this.events.unreachable();
      return;
    }
    if (info.action === 'reconnect') {
      const delay = backoffMs(this.attempt, this.spentMs);
      if (delay !== null) {
        this.attempt += 1;
        this.spentMs += delay;
        this.events.connecting(this.attempt);
        this.retryTimer = setTimeout(() => this.open(), delay);
        return;
      }
    }
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.events.closed(info, this.lastError);
  }
}
