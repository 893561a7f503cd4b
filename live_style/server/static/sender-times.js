// live-style studio: a worker on the camera's sender (RTCRtpScriptTransform). It passes every encoded frame on
// unchanged and tells the page the frame's RTP time and when it left the encoder (for latency.js).
"use strict";

onrtctransform = (event) => {
  const { readable, writable } = event.transformer;
  const tell = new TransformStream({
    transform(frame, controller) {
      postMessage([frame.getMetadata().rtpTimestamp ?? frame.timestamp, performance.timeOrigin + performance.now()]);
      controller.enqueue(frame);
    },
  });
  readable.pipeThrough(tell).pipeTo(writable);
};
