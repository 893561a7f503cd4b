// live-style studio: the browser's camera to the server over WebRTC, the stylized stream back,
// controls over a data channel. Plain JS, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
// This page's own secret: the server takes state-changing requests only with it (no other site has it).
const PAGE_SECRET = document.querySelector('meta[name="live-style-page"]').content;
const ICE_GATHERING_WAIT_MS = 3000;
const state = { pc: null, channel: null, session: null, mode: null, recorder: null };

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", isError);
}

async function getJSON(url, options = {}) {
  const headers = { "X-Live-Style-Page": PAGE_SECRET, ...(options.headers || {}) };
  const response = await fetch(url, { ...options, headers });
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function send(message) {
  if (state.channel && state.channel.readyState === "open") state.channel.send(JSON.stringify(message));
}

// --- styles -------------------------------------------------------------------------------------
function addStyle(style) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.index = String(style.index);
  button.title = style.name;
  button.setAttribute("role", "option");
  button.setAttribute("aria-selected", "false");
  const image = document.createElement("img");
  image.src = style.thumbnail;
  image.alt = "";
  const label = document.createElement("span");
  label.textContent = style.name;
  button.append(image, label);
  button.addEventListener("click", () => chooseStyle(style.index));
  $("styles").appendChild(button);
  $("second").appendChild(new Option(style.name, String(style.index)));
}

function chooseStyle(index) {
  for (const button of $("styles").children) {
    button.setAttribute("aria-selected", String(Number(button.dataset.index) === index));
  }
  send({ style: index });
}

function selectedStyle() {
  const chosen = $("styles").querySelector('[aria-selected="true"]');
  return chosen ? Number(chosen.dataset.index) : 0;
}

async function uploadStyle() {
  const file = $("upload").files[0];
  if (!file) return;
  try {
    const style = await getJSON(`api/sessions/${state.session}/styles`, {
      method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    addStyle(style);
    chooseStyle(style.index);
    say(`Added ${file.name} as "${style.name}".`);
  } catch (error) {
    say(`The upload was refused: ${error.message}`, true);
  } finally {
    $("upload").value = "";
  }
}

// --- settings -------------------------------------------------------------------------------------
function settings() {
  const second = $("second").value;
  return {
    style: selectedStyle(),
    second: second === "" ? null : Number(second),
    mix: Number($("mix").value),
    strength: Number($("strength").value),
    preserve_colors: $("preserve-colors").checked,
    stabilize: $("stabilize").checked,
    person: $("person").value,
    person_strength: Number($("person-strength").value),
    size: sizeChoice(),
  };
}

function sizeChoice() {
  const value = $("size-select").value;
  return value === "auto" ? "auto" : Number(value);
}

function showConfig(config) {
  config.styles.forEach(addStyle);
  if (config.styles.length) $("styles").children[0].setAttribute("aria-selected", "true");
  $("strength").value = config.strength;
  $("strength-value").textContent = config.strength;
  $("preserve-colors").checked = config.preserve_colors;
  $("stabilize").checked = config.stabilize;
  $("person").value = config.person;
  $("person-strength").value = config.person_strength;
  const size = String(config.size);
  if (![...$("size-select").options].some((option) => option.value === size)) $("size-select").add(new Option(size));
  $("size-select").value = size;
  $("model").textContent = config.model;
}

function wireControls() {
  $("strength").addEventListener("input", () => {
    $("strength-value").textContent = $("strength").value;
    send({ strength: Number($("strength").value) });
  });
  $("mix").addEventListener("input", () => send({ mix: Number($("mix").value) }));
  $("second").addEventListener("change", () => send({ second: settings().second }));
  $("preserve-colors").addEventListener("change", () => send({ preserve_colors: $("preserve-colors").checked }));
  $("stabilize").addEventListener("change", () => send({ stabilize: $("stabilize").checked }));
  $("person").addEventListener("change", () => send({ person: $("person").value }));
  $("person-strength").addEventListener("input", () => send({ person_strength: Number($("person-strength").value) }));
  $("size-select").addEventListener("change", () => send({ size: sizeChoice() }));
  $("side-by-side").addEventListener("change", () => $("screens").classList.toggle("side", $("side-by-side").checked));
  $("upload").addEventListener("change", uploadStyle);
  $("snapshot").addEventListener("click", snapshot);
  $("record").addEventListener("click", toggleRecording);
}

// --- figures: fps and processing size from the server, the latency measured here (latency.js) --------
function onServerMessage(message) {
  if ("pong" in message) {
    Latency.onPong(message.pong, message.server_clock_ms);
  } else if ("error" in message) {
    say(message.error, true);
  } else if ("fps" in message) {
    $("fps").textContent = message.fps.toFixed(1);
    $("size").textContent = message.size + ($("size-select").value === "auto" ? " (auto)" : "");
    $("model").textContent = message.model;
    $("person-state").textContent = ["loading", "unavailable"].includes(message.person) ? message.person : "";
    if (message.ended) say(`The stream stopped: ${message.ended}. Reload the page to start again.`, true);
    Latency.onSent(message.sent || []);
    showLatency(Latency.measure(state.mode));
  }
}

function showLatency(seen) {
  if (!seen) {
    $("latency").textContent = "–";
    $("latency-figure").title = "from the camera to this screen: measuring (no frames shown in the last 2 s yet)";
    return;
  }
  const ms = (value) => `${Math.round(value)} ms`;
  $("latency").textContent = String(Math.round(seen.total));
  const from = state.mode === "camera" ? "your camera" : "the server's camera";
  const up = state.mode === "camera" ? `camera to server ${ms(seen.up)}, ` : "";
  $("latency-figure").title =
    `from ${from} to this screen, median of the last 2 s (${seen.frames} frames, ${ms(seen.fastest)} to ` +
    `${ms(seen.slowest)}): ${up}server ${ms(seen.server)}, server to screen ${ms(seen.down)}`;
}

// --- snapshot and recording -------------------------------------------------------------------------
function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function stamp() {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

function snapshot() {
  const video = $("stylized");
  if (!video.videoWidth) return say("No stylized frame yet.", true);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => download(blob, `live-style-${stamp()}.png`), "image/png");
}

function toggleRecording() {
  if (state.recorder) {
    state.recorder.stop();
    return;
  }
  const stream = $("stylized").srcObject;
  if (!stream) return say("No stylized stream to record yet.", true);
  const chunks = [];
  const recorder = new MediaRecorder(stream, { mimeType: "video/webm" });
  recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
  recorder.onstop = () => {
    download(new Blob(chunks, { type: "video/webm" }), `live-style-${stamp()}.webm`);
    state.recorder = null;
    $("record").textContent = "Record";
    $("record").classList.remove("recording");
  };
  recorder.start(1000);
  state.recorder = recorder;
  $("record").textContent = "Stop recording";
  $("record").classList.add("recording");
}

// --- the connection -----------------------------------------------------------------------------------
function iceGatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => pc.iceGatheringState === "complete" && resolve();
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ICE_GATHERING_WAIT_MS);
  });
}

async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error(
      "This page cannot use a camera here: browsers give the camera only to https:// pages or to localhost. " +
        "Start live-style serve with --cert and --key, or open it through an SSH tunnel to localhost."
    );
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    throw new Error(
      `The browser refused the camera (${error.name}): allow this page to use the camera, ` +
        "check that no other program holds it, and reload."
    );
  }
}

async function connect(config) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.pc = pc;
  state.channel = pc.createDataChannel("controls");
  state.channel.onopen = () => send(settings());
  state.channel.onmessage = (event) => onServerMessage(JSON.parse(event.data));
  state.mode = config.mode;
  Latency.watchFrames($("stylized"), Latency.onShownFrame);
  if (config.mode === "camera") {
    Latency.watchFrames($("original"), Latency.onCameraFrame);
    const stream = await openCamera();
    $("original").srcObject = stream;
    stream.getVideoTracks().forEach((track) => Latency.watchSender(pc.addTrack(track, stream)));
  } else {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  pc.ontrack = (event) => {
    const second = pc.getTransceivers().indexOf(event.transceiver) === 1;
    $(config.mode === "watch" && second ? "original" : "stylized").srcObject = new MediaStream([event.track]);
  };
  pc.onconnectionstatechange = () => {
    if (["failed", "closed"].includes(pc.connectionState)) {
      say("The connection to the server ended; reload the page to start again.", true);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringComplete(pc);
  const answer = await getJSON("api/offer", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
  });
  state.session = answer.session;
  await pc.setRemoteDescription(answer);
}

async function start() {
  wireControls();
  try {
    const config = await getJSON("api/config");
    showConfig(config);
    await connect(config);
    say(config.mode === "camera" ? "Your camera, stylized on the server." : "The server's camera, stylized.");
  } catch (error) {
    say(error.message, true);
    const stream = $("original").srcObject;
    if (stream && stream.getTracks) stream.getTracks().forEach((track) => track.stop());
    if (state.pc) state.pc.close();
    return;
  }
  window.addEventListener("pagehide", () => {
    fetch(`api/sessions/${state.session}/close`, {
      method: "POST",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-Live-Style-Page": PAGE_SECRET },
      body: "{}",
    }).catch(() => {});
    state.pc.close();
  });
  setInterval(() => send({ ping: performance.now() }), 1000);
}

start();
