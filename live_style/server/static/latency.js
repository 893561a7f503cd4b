// live-style studio: the latency a viewer sees, from the camera's capture of a frame to its stylized frame on
// screen, measured frame by frame (plain JS, loaded before studio.js).
//
// What each side knows:
// - the page: when each camera frame was captured and when each stylized frame goes on screen, with that
//   frame's RTP time (requestVideoFrameCallback's captureTime, expectedDisplayTime, rtpTimestamp); the RTP
//   time of each camera frame it sends and when it left the encoder (sender-times.js, an encoded transform);
// - the server: for every stylized frame it sent, when it sent it and when its source frame arrived (its
//   clock), and the source frame's time on the camera's RTP clock (0 at the first frame); it stamps each
//   stylized frame's RTP time with the moment it sent it, and tells the page twice a second.
// Constants tie them together, each found from the frames themselves:
// - shown <-> sent: a shown frame's RTP time minus its send time is the same for every frame. Send times
//   follow the model's irregular pace, so only the true constant lines up (almost) every shown frame with a
//   sent one, to the RTP clock's 11 us.
// - camera RTP time <-> capture time: the browser derives a frame's RTP time from its capture time, so the
//   two differ by one constant. Its candidates lie a frame interval apart; the true one is the latest that
//   has (nearly) every frame captured before it left the encoder.
// - the server's source time 0 is the first camera frame it received: the first the page sent, unless that
//   was lost (then the one offset that fits every source time to a frame sent, where the camera's pace allows).
// Watch mode needs only the first: the source is the server's camera, whose capture times the server knows.
"use strict";

const Latency = (() => {
  const KEEP_MS = 10000; // frames remembered, each kind
  const WINDOW_MS = 2000; // the figure shown: the median over the frames shown in the last 2 s
  const MATCH_MS = 0.05; // a shown frame is a sent one when their times agree to this
  const SAME_CAPTURE_MS = 2; // RTP times of camera frames are whole milliseconds of capture time
  const RTP_PER_MS = 90;
  const state = {
    clock: null, // page time minus server time (ms), from the ping with the shortest round trip
    rtts: [],
    captures: [], // camera frames on screen: capture time (page clock)
    encoded: [], // camera frames sent: { rtp (ms), at: when out of the encoder }
    firstSent: null, // RTP time (ms) of the first camera frame sent
    sourceZero: null, // RTP time (ms) of the server's source time 0: the first frame it received
    captureMinusRtp: null,
    shown: [], // stylized frames on screen: { rtp (ms), display }
    sent: [], // from the server: { at, source (s), arrived } (server clock, ms)
    shownToSent: null,
    unwrap: { camera: rtpClock(), stylized: rtpClock() },
  };

  function rtpClock() {
    let last = null;
    let wraps = 0;
    return (raw) => {
      if (last !== null && raw < last - 2 ** 31) wraps += 1;
      last = raw;
      return (raw + wraps * 2 ** 32) / RTP_PER_MS;
    };
  }

  function forget(list, now, timeOf) {
    while (list.length && now - timeOf(list[0]) > KEEP_MS) list.shift();
  }

  function watchFrames(video, onFrame) {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    const next = (now, metadata) => {
      onFrame(metadata);
      video.requestVideoFrameCallback(next);
    };
    video.requestVideoFrameCallback(next);
  }

  // The camera's sender: every encoded frame's RTP time and when it left the encoder (a worker sees them).
  function watchSender(sender) {
    if (typeof RTCRtpScriptTransform !== "function") return;
    try {
      attachWorker(sender);
    } catch {
      // no figure rather than no camera: the frames go on untransformed
    }
  }

  function attachWorker(sender) {
    const worker = new Worker("static/sender-times.js");
    worker.onmessage = (event) => {
      const [rtp, absolute] = event.data;
      const frame = { rtp: state.unwrap.camera(rtp), at: absolute - performance.timeOrigin };
      if (state.firstSent === null) state.firstSent = frame.rtp;
      state.encoded.push(frame);
      forget(state.encoded, frame.at, (one) => one.at);
    };
    sender.transform = new RTCRtpScriptTransform(worker, {});
  }

  function onCameraFrame(metadata) {
    if (metadata.captureTime === undefined) return;
    state.captures.push(metadata.captureTime);
    forget(state.captures, metadata.captureTime, (time) => time);
  }

  function onShownFrame(metadata) {
    if (metadata.rtpTimestamp === undefined) return;
    const display = metadata.expectedDisplayTime;
    state.shown.push({ rtp: state.unwrap.stylized(metadata.rtpTimestamp), display });
    forget(state.shown, display, (frame) => frame.display);
  }

  function onPong(sentAt, serverClock) {
    const now = performance.now();
    const rtt = now - sentAt;
    state.rtts.push(rtt);
    if (state.rtts.length > 20) state.rtts.shift();
    if (rtt <= Math.min(...state.rtts)) state.clock = (sentAt + now) / 2 - serverClock;
  }

  function onSent(entries) {
    for (const [at, source, arrived] of entries) state.sent.push({ at, source, arrived });
    if (state.sent.length) forget(state.sent, state.sent[state.sent.length - 1].at, (frame) => frame.at);
  }

  // shown.rtp - sent.at: the constant most shown frames agree on, and only if clearly so.
  function findShownToSent() {
    const shown = state.shown.slice(-60);
    const { support, ranked } = tally(shown, state.sent, (frame, sent) => frame.rtp - sent.at);
    const best = ranked[0];
    const rival = ranked.find((other) => Math.abs(other.key - best.key) > 2); // beyond the best's own window
    if (!best || best.count < 5 || best.count < 0.6 * shown.length || (rival && rival.count > best.count / 2)) {
      return null;
    }
    return best.key * MATCH_MS;
  }

  // The RTP time of the server's source time 0: every source time plus it is the RTP time of a frame sent. A
  // camera's regular pace makes several offsets fit; of those that fit (nearly) as well as the best, the first
  // frame sent (the server counts from the first it receives: the same one unless it was lost).
  function findSourceZero() {
    const sent = state.sent.slice(-60);
    if (sent.length < 5 || state.firstSent === null) return null;
    const { support, ranked } = tally(sent, state.encoded, (one, frame) => frame.rtp - 1000 * one.source);
    const best = ranked[0];
    if (!best) return null;
    if (support(Math.round(state.firstSent / MATCH_MS)) >= 0.9 * best.count) return state.firstSent;
    const rival = ranked.find((other) => Math.abs(other.key - best.key) > 2); // beyond the best's own window
    const unique = !rival || rival.count < best.count;
    return unique && best.count >= 0.9 * sent.length ? best.key * MATCH_MS : null;
  }

  // Offsets between two kinds of frame, each counted once per frame of the first kind that some frame of the
  // second kind fits (to MATCH_MS, either side): support(key), and every key ranked by it.
  function tally(firsts, seconds, offset) {
    const votes = new Map();
    for (const first of firsts) {
      const keys = new Set(seconds.map((second) => Math.round(offset(first, second) / MATCH_MS)));
      for (const key of keys) votes.set(key, (votes.get(key) || 0) + 1);
    }
    const support = (key) => (votes.get(key - 1) || 0) + (votes.get(key) || 0) + (votes.get(key + 1) || 0);
    const ranked = [...votes.keys()].map((key) => ({ key, count: support(key) })).sort((a, b) => b.count - a.count);
    return { support, ranked };
  }

  // capture - rtp of camera frames: of the candidates (the last capture on screen before each frame left the
  // encoder), the latest with (nearly) every frame captured before it was encoded.
  function findCaptureMinusRtp() {
    const candidates = [];
    for (const frame of state.encoded) {
      const before = lastAtOrBefore(state.captures, frame.at);
      if (before !== null) candidates.push(before - frame.rtp);
    }
    candidates.sort((a, b) => b - a);
    const valid = (offset) => state.encoded.filter((frame) => frame.rtp + offset <= frame.at + 0.5).length;
    for (let start = 0; start < candidates.length; ) {
      let end = start;
      while (end + 1 < candidates.length && candidates[start] - candidates[end + 1] <= SAME_CAPTURE_MS) end += 1;
      const offset = candidates[Math.floor((start + end) / 2)];
      if (end - start + 1 >= 3 && valid(offset) >= 0.9 * state.encoded.length) return offset;
      start = end + 1;
    }
    return null;
  }

  function lastAtOrBefore(sorted, time) {
    let found = null;
    for (const value of sorted) {
      if (value > time) break;
      found = value;
    }
    return found;
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  // Over the last WINDOW_MS of shown frames, each tied to its send and its capture: the median of the whole and
  // of its parts (camera to server, in the server, server to screen), the fastest and slowest frame, how many
  // frames; null until the constants are found.
  function measure(mode) {
    state.shownToSent = findShownToSent() ?? state.shownToSent;
    if (mode === "camera") {
      state.captureMinusRtp = findCaptureMinusRtp() ?? state.captureMinusRtp;
      state.sourceZero = findSourceZero() ?? state.sourceZero;
    }
    if (state.shownToSent === null || state.clock === null) return null;
    if (mode === "camera" && (state.captureMinusRtp === null || state.sourceZero === null)) return null;
    const parts = { total: [], up: [], server: [], down: [] };
    const now = performance.now();
    for (const frame of state.shown) {
      if (now - frame.display > WINDOW_MS) continue; // a stalled stream shows no figure, not an old one
      const at = frame.rtp - state.shownToSent;
      const sent = state.sent.find((candidate) => Math.abs(candidate.at - at) < MATCH_MS);
      if (!sent || sent.arrived === null) continue;
      const arrived = sent.arrived + state.clock;
      const captured = mode === "camera" ? state.sourceZero + 1000 * sent.source + state.captureMinusRtp : arrived;
      parts.total.push(frame.display - captured);
      parts.up.push(arrived - captured);
      parts.server.push(sent.at - sent.arrived);
      parts.down.push(frame.display - (sent.at + state.clock));
    }
    if (!parts.total.length) return null;
    const medians = Object.fromEntries(Object.entries(parts).map(([name, values]) => [name, median(values)]));
    return { ...medians, fastest: Math.min(...parts.total), slowest: Math.max(...parts.total), frames: parts.total.length };
  }

  return { watchFrames, watchSender, onCameraFrame, onShownFrame, onPong, onSent, measure };
})();
